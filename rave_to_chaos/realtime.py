"""Play exports in the real nn.ar, in real time: scsynth on a JACK server with the dummy driver (a sound
card's clock without the card), and count what came late while they played (make realtime).

Two kinds of late, both a click a listener hears:
- xruns: periods scsynth did not finish in time, as JACK reports them ("JackEngine::XRun: client =
  SuperCollider was not finished"). "JackTimedDriver::Process XRun" is the dummy driver's own clock waking
  late (the machine, not the host), counted apart as driver_late.
- late blocks: nn.ar never makes the audio thread wait for the model. Its model runs in a thread of its own;
  when a result is not ready, the UGen plays zeros from its empty output buffer. So a 64-sample block of
  exact zeros after the sound has started is a block the model did not deliver in time (a saw drives every
  inlet; no instrument here outputs 64 exact zeros in a row while driven).
The first second (TorchScript optimises the graph on its first calls) is counted apart: *_at_start.
Each buffer is first played with no model (the saw straight out): what the host and the machine give on
their own. What a model adds is its row's excess over that baseline.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from audition.model_file import open_export
from rave_to_chaos import real_hosts
from safeio import UserError, atomic_write_text, cli_main, number
from spec.host import BENCH_BUFFERS, HOST_BLOCK, SR

LATE = "JackEngine::XRun: client = SuperCollider"   # scsynth did not finish its period
DRIVER_LATE = "JackTimedDriver::Process XRun"       # the dummy driver's clock woke late (the machine's load)
BASELINE = "(no model: the saw alone)"
START_S = 1.0    # the first second of play, counted apart: TorchScript optimises the graph on its first calls
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
    blocks = y[first: first + (len(y) - first) // HOST_BLOCK * HOST_BLOCK].reshape(-1, HOST_BLOCK)
    silent = np.flatnonzero(~blocks.any(axis=1))
    start = int(START_S * sr) // HOST_BLOCK
    return int((silent < start).sum()), int((silent >= start).sum())


def play(nn_ar_dir: Path, model: Path | None, method: str, buffer: int, seconds: float, work: Path,
         period: int | None = None) -> dict:
    """`method` of `model` (None: no model, the saw alone) through nn.ar at `buffer` for `seconds` of real
    time, JACK's period `period` (default: the buffer). nn.ar's buffer 0 runs the model inside the audio
    thread.
    -> {late_blocks, xruns, their *_at_start, driver_late, sounded (the recording was not all zeros),
    realtime (JACK got real-time scheduling), played_s, peak_cpu, avg_cpu}."""
    name = model.name if model else "the saw alone"
    server = f"rave-to-chaos-{os.getpid()}"   # a JACK server of our own: a user's running JACK is left alone
    env = {**real_hosts.torch_env(), "JACK_DEFAULT_SERVER": server, "JACK_NO_AUDIO_RESERVATION": "1"}
    sc = json.dumps   # a JSON string or list of strings reads as the same sclang literal
    job = (f'(model: {sc(str(model)) if model else "nil"}, method: {sc(method)}, buffer: {buffer}, seconds: {seconds!r}, '
           f'sr: {SR}, port: {free_port()}, output: {sc(str(work / "out.wav"))}, '
           f'plugins: {sc(real_hosts.sc_plugins(nn_ar_dir).split(":"))})\n')
    sclang_cmd, sclang_env = real_hosts.sclang_setup(nn_ar_dir, work, job)
    jackd = sclang = None
    try:
        jackd = subprocess.Popen(["jackd", "-n", server, "-R", "-d", "dummy", "-r", str(SR), "-p", str(period or buffer)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                 start_new_session=True)
        jack = Lines(jackd)
        ready = subprocess.run(["jack_wait", "-s", server, "-w", "-t", "10"], capture_output=True, text=True, env=env)
        if ready.returncode or jackd.poll() is not None:
            raise UserError(f"jackd (dummy driver) did not start:\n{jack.text()[-1500:]}")
        sclang = subprocess.Popen([*sclang_cmd, str(real_hosts.REPO / "hosts/real/realtime.scd")],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env={**sclang_env, **env}, start_new_session=True)
        sc = Lines(sclang)
        try:
            sclang.wait(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            raise UserError(f"sclang did not finish {seconds} s of {name} within {seconds + 120:.0f} s:\n"
                            f"{sc.text()[-1500:]}") from None
        sc.thread.join(timeout=5)
    finally:
        stop(sclang)
        stop(jackd)
    (work / "sclang.log").write_text(sc.text())
    (work / "jackd.log").write_text(jack.text(times=True))   # epoch seconds, as PLAYING and DONE print them
    played = re.search(r"^PLAYING (\S+)$", sc.text(), re.M)
    done = re.search(r"^DONE (\S+) peak_cpu (\S+) avg_cpu (\S+)$", sc.text(), re.M)
    if sclang.returncode or not (played and done):
        raise UserError(f"nn.ar did not play {name} ({method}, buffer {buffer}) in real time:\n{sc.text()[-1500:]}")
    t0, t1 = float(played[1]), float(done[1])
    late = [t for t, line in jack.lines if LATE in line and t0 <= t <= t1]
    y, _ = sf.read(str(work / "out.wav"), dtype="float32", always_2d=True)
    (work / "out.wav").unlink()   # 10 MB a minute; the counts are what is kept
    at_start, after = late_blocks(y[:, 0])
    return {"late_blocks": after, "late_blocks_at_start": at_start, "sounded": bool(y.any()),
            "xruns": sum(t >= t0 + START_S for t in late), "xruns_at_start": sum(t < t0 + START_S for t in late),
            "driver_late": sum(DRIVER_LATE in line and t0 <= t <= t1 for t, line in jack.lines),
            "realtime": not NO_REALTIME.search(jack.text()), "played_s": t1 - t0,
            "peak_cpu": float(done[2]), "avg_cpu": float(done[3])}


def table(rows: list[dict]) -> str:
    head = (f"{'model':<40} {'method':<8} {'buffer':>6} {'played s':>8} {'late blocks':>11} {'xruns':>5}  "
            f"{'(first s)':>9} {'driver late':>11} {'peak cpu %':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<40} {r['method']:<8} {r['buffer']:>6} {r['played_s']:>8.1f} {r['late_blocks']:>11} "
                     f"{r['xruns']:>5}  {r['late_blocks_at_start']:>4}/{r['xruns_at_start']:<4} {r['driver_late']:>11} "
                     f"{r['peak_cpu']:>10.1f}" + ("" if r["sounded"] else "  silent"))
    return "\n".join(lines)


@cli_main
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="rave-to-chaos realtime", description=__doc__.split("\n\n")[0])
    ap.add_argument("exports", nargs="+", type=Path, help="exports (.ts) or folders of them")
    ap.add_argument("--buffers", type=number(int, 16, 1 << 14, "--buffers"), nargs="+", default=list(BENCH_BUFFERS),
                    help="JACK periods and nn.ar buffers (powers of two)")
    ap.add_argument("--seconds", type=number(float, 1.0, 3600.0, "--seconds"), default=60.0,
                    help="real time played per export, method and buffer")
    ap.add_argument("--methods", nargs="+", default=["forward"], help="methods to play ('all': every one)")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--work", type=Path, default=Path("reports/realtime-work"), help="logs of each run")
    args = ap.parse_args(argv)
    bad = [b for b in args.buffers if b & (b - 1)]
    if bad:
        raise UserError(f"--buffers {bad[0]}: JACK's period must be a power of two from 16; use e.g. 64 256 2048")
    missing = real_hosts.missing_tools("jackd", "sclang", "scsynth")
    if missing:
        raise UserError(f"missing {' '.join(missing)}: run make setup")
    models = [p for e in args.exports for p in (sorted(e.glob("*.ts")) if e.is_dir() else [e])]
    if not models:
        raise UserError(f"no .ts export in {' '.join(map(str, args.exports))}: run make export-chaos (or make demo) first")
    plays = []   # every export opened first: a bad one is one sentence before a minute of baseline
    for model in models:
        export = open_export(model)
        methods = list(export.methods) if args.methods == ["all"] else [m for m in args.methods if m in export.methods]
        plays += [(model.resolve(), method) for method in methods]
    if not plays:
        raise UserError(f"no export given has the method(s) {' '.join(args.methods)}; `rave-to-chaos info X.ts` lists them")
    nn_ar_dir, why = real_hosts.nn_ar()   # built once per source (minutes the first time)
    if nn_ar_dir is None:
        raise UserError(f"the real nn.ar is needed: {why}; e.g. make realtime NN_AR_SRC=path/to/nn.ar.tar.gz")
    rows = []
    for buffer in args.buffers:
        for model, method in [(None, "-")] + plays:   # first the baseline: the host and the machine on their own
            work = args.work / (f"{model.stem}-{method}-{buffer}" if model else f"baseline-{buffer}")
            r = play(nn_ar_dir, model, method, buffer, args.seconds, work)
            rows.append({"model": model.name if model else BASELINE, "method": method, "buffer": buffer, **r})
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    if not all(r["realtime"] for r in rows):
        print("note: JACK ran without real-time scheduling here (no permission): late periods count the "
              "machine's scheduling as much as the model")
    print(table(rows))
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
