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
import contextlib
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

from audition import real_hosts
from audition.model_file import open_export
from audition.pd_patch import Patch, pd_symbol
from safeio import UserError, atomic_write_text, cli_main, number
from safeio.environment import child_env
from spec.host import BENCH_BUFFERS, HOST_BLOCK, SR

LATE = "JackEngine::XRun: client = {} was not finished"  # the host did not finish its period
DRIVER_LATE = "JackTimedDriver::Process XRun"  # the dummy driver's clock woke late (the machine's load)
BASELINE = "(no model: the saw alone)"
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


def play(
    host_dir: Path,
    model: Path | None,
    method: str,
    buffer: int,
    seconds: float,
    work: Path,
    period: int | None = None,
    host: str = "nn.ar",
) -> dict:
    """`method` of `model` (None: no model, the saw alone) in the real nn.ar (host_dir: its build) or nn~
    (host="nn~", in Pd) at `buffer` for `seconds` of real time, JACK's period `period` (default: the
    buffer). nn.ar's buffer 0 runs the model inside the audio thread.
    -> {late_blocks, xruns, their *_at_start, driver_late, sounded (the recording was not all zeros),
    realtime (JACK got real-time scheduling), played_s; nn.ar: peak_cpu, avg_cpu (scsynth's own)}."""
    with jack_server(period or buffer, work) as (env, jack):
        if host == "nn~":
            return play_pd(host_dir, model, method, buffer, seconds, work, env, jack)
        return play_nn_ar(host_dir, model, method, buffer, seconds, work, env, jack)


def play_nn_ar(
    nn_ar_dir: Path, model: Path | None, method: str, buffer: int, seconds: float, work: Path, env: dict, jack: Lines
) -> dict:
    name = model.name if model else "the saw alone"
    sc = json.dumps  # a JSON string or list of strings reads as the same sclang literal
    job = (
        f"(model: {sc(str(model)) if model else 'nil'}, method: {sc(method)}, buffer: {buffer}, seconds: {seconds!r}, "
        f"sr: {SR}, port: {free_port()}, output: {sc(str(work / 'out.wav'))}, "
        f"plugins: {sc(real_hosts.sc_plugins(nn_ar_dir).split(':'))})\n"
    )
    sclang_cmd, sclang_env = real_hosts.sclang_setup(nn_ar_dir, work, job)
    sclang = subprocess.Popen(
        [*sclang_cmd, str(real_hosts.REPO / "hosts/real/realtime.scd")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**sclang_env, **env},
        start_new_session=True,
    )
    sc = Lines(sclang)
    try:
        sclang.wait(timeout=seconds + 120)
        sc.thread.join(timeout=5)
    except subprocess.TimeoutExpired:
        raise UserError(
            f"sclang did not finish {seconds} s of {name} within {seconds + 120:.0f} s:\n{sc.text()[-1500:]}"
        ) from None
    finally:
        stop(sclang)
        (work / "sclang.log").write_text(sc.text())
    played = re.search(r"^PLAYING (\S+)$", sc.text(), re.M)
    done = re.search(r"^DONE (\S+) peak_cpu (\S+) avg_cpu (\S+)$", sc.text(), re.M)
    if sclang.returncode or not (played and done):
        raise UserError(f"nn.ar did not play {name} ({method}, buffer {buffer}) in real time:\n{sc.text()[-1500:]}")
    y, _ = sf.read(str(work / "out.wav"), dtype="float32", always_2d=True)
    (work / "out.wav").unlink()  # 10 MB a minute; the counts are what is kept
    return {
        **counts(jack, "SuperCollider", float(played[1]), float(done[1]), y[:, 0]),
        "peak_cpu": float(done[2]),
        "avg_cpu": float(done[3]),
    }


def pd_patch(model: Path | None, method: str, buffer: int, inlets: int) -> str:
    """A saw on every inlet of [nn~ model method buffer] (or straight out, with no model) to the dac; at load,
    [bufsize N( before DSP starts (nn~'s 1-in/1-out quirk; none for buffer 0, nn~'s mode that runs the
    model inside Pd's DSP), then DSP on, then `READY` on Pd's stderr."""
    pd = Patch()
    load, trig = pd.box("obj loadbang", 10, 10), pd.box("obj t b b b", 10, 40)
    dsp, ready = pd.box("msg \\; pd dsp 1", 10, 70), pd.box("obj print READY", 10, 100)
    dac = pd.box("obj dac~", 10, 300)
    pd.chain(load, trig, ready)
    pd.wire(trig, dsp, 1)

    def saw(i: int) -> int:
        osc, centred = (
            pd.box(f"obj phasor~ {110 * (i + 1)}", 10 + 120 * i, 200),
            pd.box("obj -~ 0.5", 10 + 120 * i, 230),
        )
        pd.wire(osc, centred)
        return centred

    if model is None:
        out = saw(0)
    else:
        out = pd.box(f"obj nn~ {pd_symbol(model)} {method} {buffer}", 10, 260)
        if buffer:  # 0: no thread, no [bufsize(
            size = pd.box(f"msg bufsize {buffer}", 200, 40)
            pd.wire(trig, size, 2)
            pd.wire(size, out)
        for i in range(inlets):
            pd.wire(saw(i), out, 0, i)
    pd.wire(out, dac)
    pd.wire(out, dac, 0, 1)
    return pd.text()


def play_pd(
    nn_dir: Path, model: Path | None, method: str, buffer: int, seconds: float, work: Path, env: dict, jack: Lines
) -> dict:
    """Pd plays the patch on JACK; jack_rec records what Pd hands JACK (Pd's JACK callback hands zeros when
    its scheduler, held up by nn~ waiting for its model, is behind)."""
    name = model.name if model else "the saw alone"
    inlets = open_export(model).methods[method].in_channels if model else 1
    (work / "play.pd").write_text(pd_patch(model, method, buffer, inlets))
    pd = subprocess.Popen(
        ["pd", "-nogui", "-jack", "-r", str(SR), "-stderr", "-path", str(nn_dir), "-open", str(work / "play.pd")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**real_hosts.torch_env(), **env},
        start_new_session=True,
    )
    log = Lines(pd)
    try:
        for _ in range(600):  # the model loads before loadbang: up to a minute
            if "READY: bang" in log.text() or pd.poll() is not None:
                break
            time.sleep(0.1)
        if "READY: bang" not in log.text():
            raise UserError(f"Pd did not start {name} within a minute:\n{log.text()[-1500:]}")
        t0 = time.time()
        rec = subprocess.run(
            ["jack_rec", "-f", str(work / "out.wav"), "-d", str(seconds), "pure_data:output_1"],
            capture_output=True,
            text=True,
            env=child_env(**env),
            timeout=seconds + 60,
        )
        t1 = time.time()
    finally:
        stop(pd)
        (work / "pd.log").write_text(log.text())
    if rec.returncode or not (work / "out.wav").exists():
        raise UserError(f"jack_rec recorded nothing from Pd ({name}):\n{rec.stdout[-800:]}{rec.stderr[-800:]}")
    y, _ = sf.read(str(work / "out.wav"), dtype="float32", always_2d=True)
    (work / "out.wav").unlink()
    return counts(jack, "pure_data", t0, t1, y[:, 0])


def table(rows: list[dict]) -> str:
    head = (
        f"{'model':<40} {'method':<8} {'buffer':>6} {'played s':>8} {'late blocks':>11} {'xruns':>5}  "
        f"{'(first s)':>9} {'driver late':>11} {'peak cpu %':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        cpu = f"{r['peak_cpu']:>10.1f}" if "peak_cpu" in r else f"{'-':>10}"  # scsynth reports it; Pd does not
        lines.append(
            f"{r['model']:<40} {r['method']:<8} {r['buffer']:>6} {r['played_s']:>8.1f} {r['late_blocks']:>11} "
            f"{r['xruns']:>5}  {r['late_blocks_at_start']:>4}/{r['xruns_at_start']:<4} {r['driver_late']:>11} "
            f"{cpu}" + ("" if r["sounded"] else "  silent")
        )
    return "\n".join(lines)


@cli_main
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="rave-to-chaos realtime", description=__doc__.split("\n\n")[0])
    ap.add_argument("exports", nargs="+", type=Path, help="exports (.ts) or folders of them")
    ap.add_argument(
        "--buffers",
        type=number(int, 16, 1 << 14, "--buffers"),
        nargs="+",
        default=list(BENCH_BUFFERS),
        help="JACK periods and nn.ar buffers (powers of two)",
    )
    ap.add_argument(
        "--seconds",
        type=number(float, 1.0, 3600.0, "--seconds"),
        default=60.0,
        help="real time played per export, method and buffer",
    )
    ap.add_argument("--methods", nargs="+", default=["forward"], help="methods to play ('all': every one)")
    ap.add_argument("--host", choices=("nn.ar", "nn~"), default="nn.ar", help="scsynth with nn.ar, or Pd with nn~")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--work", type=Path, default=Path("reports/realtime-work"), help="logs of each run")
    args = ap.parse_args(argv)
    bad = [b for b in args.buffers if b & (b - 1)]
    if bad:
        raise UserError(f"--buffers {bad[0]}: JACK's period must be a power of two from 16; use e.g. 64 256 2048")
    missing = real_hosts.missing_tools("jackd", *(("pd",) if args.host == "nn~" else ("sclang", "scsynth")))
    if missing:
        raise UserError(f"missing {' '.join(missing)}: run make setup")
    models = [p for e in args.exports for p in (sorted(e.glob("*.ts")) if e.is_dir() else [e])]
    if not models:
        raise UserError(
            f"no .ts export in {' '.join(map(str, args.exports))}: run make export-chaos (or make demo) first"
        )
    plays = []  # every export opened first: a bad one is one sentence before a minute of baseline
    for model in models:
        export = open_export(model)
        methods = list(export.methods) if args.methods == ["all"] else [m for m in args.methods if m in export.methods]
        plays += [(model.resolve(), method) for method in methods]
    if not plays:
        raise UserError(
            f"no export given has the method(s) {' '.join(args.methods)}; `rave-to-chaos info X.ts` lists them"
        )
    host_dir, why = (real_hosts.nn_tilde if args.host == "nn~" else real_hosts.nn_ar)()  # built once (minutes)
    if host_dir is None:
        src = "NN_TILDE_SRC=path/to/nn_tilde" if args.host == "nn~" else "NN_AR_SRC=path/to/nn.ar"
        raise UserError(f"the real {args.host} is needed: {why}; e.g. make realtime {src}.tar.gz")
    rows = []
    for buffer in args.buffers:
        for model, method in [(None, "-")] + plays:  # first the baseline: the host and the machine on their own
            work = args.work / args.host / (f"{model.stem}-{method}-{buffer}" if model else f"baseline-{buffer}")
            r = play(host_dir, model, method, buffer, args.seconds, work, host=args.host)
            rows.append(
                {"host": args.host, "model": model.name if model else BASELINE, "method": method, "buffer": buffer, **r}
            )
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    if not all(r["realtime"] for r in rows):
        print(
            "note: JACK ran without real-time scheduling here (no permission): late periods count the "
            "machine's scheduling as much as the model"
        )
    print(table(rows))
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
