"""Counting what came late while a real host played in real time (make realtime): a JACK server of our own
with the dummy driver (a sound card's clock without the card), its reports of late periods, and blocks of
exact zeros in the recording (a block the model did not deliver in time). audition/realtime.py plays."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from safeio import UserError
from safeio.environment import child_env
from spec.host import HOST_BLOCK, SR

LATE = "JackEngine::XRun: client = {} was not finished"  # the host did not finish its period
DRIVER_LATE = "JackTimedDriver::Process XRun"  # the dummy driver's clock woke late (the machine's load)
START_S = 1.0  # the first second of play, counted apart: TorchScript optimises the graph on its first calls
NO_REALTIME = re.compile(r"Cannot use real-time scheduling|cannot use real-time", re.I)


class Lines:
    """A process's output lines, each with the wall time it arrived (read in a thread)."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self.read, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def read(self, stream) -> None:
        for line in stream:
            self.lines.append((time.time(), line.rstrip("\n")))

    def text(self, times: bool = False) -> str:
        return "\n".join(f"{t:.4f} {line}" if times else line for t, line in self.lines)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen | None) -> None:
    """End a process and everything it started (sclang starts scsynth): nothing is left running."""
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def late_blocks(y: np.ndarray, sr: int = SR) -> tuple[int, int]:
    """Blocks of exact zeros after the first sound: (in its first START_S seconds, after them)."""
    sounding = np.flatnonzero(y)
    if not len(sounding):
        return 0, 0
    first = sounding[0] // HOST_BLOCK * HOST_BLOCK
    blocks = y[first : first + (len(y) - first) // HOST_BLOCK * HOST_BLOCK].reshape(-1, HOST_BLOCK)
    silent = np.flatnonzero(~blocks.any(axis=1))
    start = int(START_S * sr) // HOST_BLOCK
    return int((silent < start).sum()), int((silent >= start).sum())


@contextlib.contextmanager
def jack_server(period: int, work: Path):
    """A JACK server of our own (dummy driver, real-time scheduling) while the block runs: a user's running
    JACK is left alone. Its log (each line with its epoch time) is kept in work/jackd.log.
    -> (the environment its clients need, its output lines)."""
    server = f"rave-to-chaos-{os.getpid()}"
    env = {"JACK_DEFAULT_SERVER": server, "JACK_NO_AUDIO_RESERVATION": "1"}
    work.mkdir(parents=True, exist_ok=True)
    jackd = subprocess.Popen(
        ["jackd", "-n", server, "-R", "-d", "dummy", "-r", str(SR), "-p", str(period)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(**env),
        start_new_session=True,
    )
    jack = Lines(jackd)
    try:
        ready = subprocess.run(["jack_wait", "-s", server, "-w", "-t", "10"], capture_output=True, text=True)
        if ready.returncode or jackd.poll() is not None:
            raise UserError(f"jackd (dummy driver) did not start:\n{jack.text()[-1500:]}")
        yield env, jack
    finally:
        stop(jackd)
        (work / "jackd.log").write_text(jack.text(times=True))


def counts(jack: Lines, client: str, t0: float, t1: float, y: np.ndarray) -> dict:
    """What came late between t0 and t1 (epoch seconds): JACK's reports on `client` and the recording y."""
    late = [t for t, line in jack.lines if LATE.format(client) in line and t0 <= t <= t1]
    at_start, after = late_blocks(y)
    return {
        "late_blocks": after,
        "late_blocks_at_start": at_start,
        "sounded": bool(y.any()),
        "xruns": sum(t >= t0 + START_S for t in late),
        "xruns_at_start": sum(t < t0 + START_S for t in late),
        "driver_late": sum(DRIVER_LATE in line and t0 <= t <= t1 for t, line in jack.lines),
        "realtime": not NO_REALTIME.search(jack.text()),
        "played_s": t1 - t0,
    }
