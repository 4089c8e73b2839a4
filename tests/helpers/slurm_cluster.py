"""A real single-node Slurm (Debian's slurmctld + slurmd, no systemd, no munge) for tests.

The settings below make it start in seconds without systemd or munge (auth/none, linuxproc,
no accounting, fast scheduler and credential expiry). Daemons are stopped by PID
(kill -9 as a fallback: slurmd ignores SIGTERM once slurmctld is gone); every wait has a timeout.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def available() -> str | None:
    """None if Slurm can run here, else why not."""
    for tool in ("slurmctld", "slurmd", "sbatch", "scontrol", "squeue"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (make setup installs slurmctld slurmd slurm-client)"
    if os.geteuid() != 0:
        return "a test Slurm runs its daemons as root"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(d: Path) -> Path:
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "dev"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for i in range(2):  # fake GPUs: Slurm only needs character devices to hand out
        dev = d / "dev" / f"nvidia{i}"
        if not dev.exists():
            os.mknod(dev, 0o666 | 0o020000, os.makedev(195, i))
    (d / "gres.conf").write_text(f"AutoDetect=off\nName=gpu File={d}/dev/nvidia[0-1]\n")
    conf = d / "slurm.conf"
    conf.write_text(f"""ClusterName=test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
AuthInfo=cred_expire=5
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SchedulerParameters=bf_interval=1,sched_interval=2
ReturnToService=2
MailProg=/bin/true
KillWait=60
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 Gres=gpu:2 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def wait_for(check, timeout: float, what: str, every: float = 0.5):
    t0 = time.time()
    while time.time() - t0 < timeout:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextlib.contextmanager
def cluster(d: Path):
    """Start slurmctld + slurmd with a config in `d`; yield the environment to run sbatch with."""
    conf = write_config(d)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs = [
        subprocess.Popen(["slurmctld", "-D", "-i"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT),
        subprocess.Popen(["slurmd", "-D"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT),
    ]
    try:

        def idle():
            out = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, timeout=10
            ).stdout
            return "idle" in out

        wait_for(idle, 60, "the Slurm node to become idle")
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--quiet", "--partition=test"], env=env, capture_output=True, timeout=30)
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        reap(conf)


def reap(conf: Path) -> None:
    """Kill what this cluster started and outlived it: slurmd's job step daemons (slurmstepd ignores
    SIGTERM once slurmd is gone) and their jobs, found by the SLURM_CONF they inherited."""
    mark = f"SLURM_CONF={conf}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if mark in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue  # gone already, or not ours to read


def job_state(job: str, env) -> str:
    out = subprocess.run(["scontrol", "show", "job", job], env=env, capture_output=True, text=True, timeout=10).stdout
    for field in out.split():
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    return "UNKNOWN"


def wait_done(job: str, env, timeout: float) -> str:
    return wait_for(
        lambda: (
            (s := job_state(job, env)) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY")
            and s
        ),
        timeout,
        f"job {job}",
    )
