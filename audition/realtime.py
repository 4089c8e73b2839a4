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
import re
import subprocess
from pathlib import Path

import soundfile as sf

from audition import real_hosts
from audition.jack import Lines, counts, free_port, jack_server, stop
from audition.model_file import open_export
from audition.realtime_pd import play_pd
from safeio import UserError, atomic_write_text, cli_main, number, program
from spec.host import BENCH_BUFFERS, SR

BASELINE = "(no model: the saw alone)"


def play(
    host_dir: Path,
    model: Path | None,
    method: str,
    buffer: int,
    seconds: float,
    work: Path,
    period: int | None = None,
    host: str = "nn.ar",
    **nn_ar,
) -> dict:
    """`method` of `model` (None: no model, the saw alone) in the real nn.ar (host_dir: its build) or nn~
    (host="nn~", in Pd) at `buffer` for `seconds` of real time, JACK's period `period` (default: the
    buffer). nn.ar's buffer 0 runs the model inside the audio thread.
    -> {late_blocks, xruns, their *_at_start, driver_late, sounded (the recording was not all zeros),
    realtime (JACK got real-time scheduling), played_s; nn.ar: peak_cpu, avg_cpu (scsynth's own)}.
    nn.ar also takes attributes {name: initial}, changes [(seconds, name, value)], dc (a constant on
    every inlet instead of the saws) and keep (where its recording goes, else it is deleted)."""
    with jack_server(period or buffer, work) as (env, jack):
        if host == "nn~":
            return play_pd(host_dir, model, method, buffer, seconds, work, env, jack)
        return play_nn_ar(host_dir, model, method, buffer, seconds, work, env, jack, **nn_ar)


def play_nn_ar(
    nn_ar_dir: Path,
    model: Path | None,
    method: str,
    buffer: int,
    seconds: float,
    work: Path,
    env: dict,
    jack: Lines,
    attributes: dict | None = None,
    changes=(),
    dc: float | None = None,
    keep: Path | None = None,
) -> dict:
    name = model.name if model else "the saw alone"
    sc = json.dumps  # a JSON string, number or list of them reads as the same sclang literal
    job = (
        f"(model: {sc(str(model)) if model else 'nil'}, method: {sc(method)}, buffer: {buffer}, seconds: {seconds!r}, "
        f"sr: {SR}, port: {free_port()}, output: {sc(str(work / 'out.wav'))}, "
        f"plugins: {sc(real_hosts.sc_plugins(nn_ar_dir).split(':'))}, "
        f"attributes: {sc([v for kv in (attributes or {}).items() for v in kv])}, "
        f"changes: {sc([list(c) for c in changes])}, dc: {'nil' if dc is None else sc(float(dc))})\n"
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
    if keep:
        (work / "out.wav").replace(keep)
    else:
        (work / "out.wav").unlink()  # 10 MB a minute; the counts are what is kept
    return {
        **counts(jack, "SuperCollider", float(played[1]), float(done[1]), y[:, 0]),
        "peak_cpu": float(done[2]),
        "avg_cpu": float(done[3]),
    }


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


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=program("python -m audition.realtime"), description=__doc__.split("\n\n")[0])
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
    return ap


def what_to_play(args) -> list[tuple[Path, str]]:
    """(export, method) pairs, every export opened first: a bad one is one sentence before a minute of
    baseline; missing tools and bad buffers too."""
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
    plays = []
    for model in models:
        export = open_export(model)
        methods = list(export.methods) if args.methods == ["all"] else [m for m in args.methods if m in export.methods]
        plays += [(model.resolve(), method) for method in methods]
    if not plays:
        raise UserError(
            f"no export given has the method(s) {' '.join(args.methods)}; `rave-to-chaos info X.ts` lists them"
        )
    return plays


@cli_main
def main(argv=None) -> None:
    args = parser().parse_args(argv)
    plays = what_to_play(args)
    host_dir, why = (real_hosts.nn_tilde if args.host == "nn~" else real_hosts.nn_ar)()  # built once (minutes)
    if host_dir is None:
        src = "NN_TILDE_SRC=path/to/nn_tilde" if args.host == "nn~" else "NN_AR_SRC=path/to/nn.ar"
        raise UserError(f"the real {args.host} is needed: {why}; e.g. make realtime {src}.tar.gz")
    print(f"{args.host}: {why}")  # which one plays: installed, or built from the sources given
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
