"""Run `rave train` as a supervised child: its output appended to the run's log with progress lines and errors
on the console, signals forwarded to it, and SIGTERM to it when the wrapper dies (even by SIGKILL)."""

import signal
import subprocess
import sys
import time
from pathlib import Path


def die_with_parent(stop: int = signal.SIGTERM) -> None:
    """In the child, before exec: `stop` when the wrapper dies, even by SIGKILL (Linux prctl), so
    RAVE checkpoints and stops instead of training on as an orphan."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, stop)  # PR_SET_PDEATHSIG


# Lines of RAVE's output shown on the console; everything goes to the run's train.log.
CONSOLE = ("· phase ", "received SIG", "saved ", "loading state from file", "Error", "error:")


def run_forwarding_signals(cmd, env, log: Path, lock_fd=None, stop=signal.SIGTERM) -> tuple[int, str, int | None]:
    """Run RAVE with its output appended to `log`, showing only progress lines and errors; forward
    SIGTERM/SIGINT/SIGHUP/SIGUSR1 to it as `stop` (SIGUSR1 to srun: it passes that on to every rank, while a
    SIGTERM would make it kill them). -> (exit code, console lines + log tail, signal). The child
    inherits the run's lock, so no second trainer starts while it lives."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        start = out.tell()
        child = subprocess.Popen(
            cmd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(lock_fd,) if lock_fd is not None else (),
            preexec_fn=(lambda: die_with_parent(stop)) if sys.platform == "linux" else None,
        )
    received = []

    def forward(signum, _frame):
        received.append(signum)
        if child.poll() is None:
            child.send_signal(stop)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)}
    pos, partial, said = start, b"", []
    try:
        while True:
            done = child.poll() is not None
            with open(log, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos += len(chunk)
            *lines, partial = (partial + chunk).split(b"\n")
            for line in lines:
                text = line.decode(errors="replace").rstrip()
                if any(key in text for key in CONSOLE):
                    print(text, flush=True)
                    said.append(text)
            if done:
                break
            time.sleep(0.5)
        code = child.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    with open(log, "rb") as f:
        f.seek(max(start, pos - 65536))
        tail = f.read().decode(errors="replace")
    # the console's lines first: RAVE's profiler table at the end can push them out of the last 64 KB
    return code, "\n".join([*said, tail]), (received[0] if received else None)
