"""python -m audition {info,render,validate,bench} — an nn~-faithful host for any TorchScript export."""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from audition.host import use_host_threads
from audition.model_file import export_files
from safeio import UserError, atomic_write_text, cli_main, number, program, warn, write_wav
from spec.host import BENCH_BUFFERS, DEFAULT_BUFFER, PROFILES, SR, WORST_CASE_BLOCKS, WORST_CASE_BUFFERS
from spec.instruments import SEED_RANGE


def cmd_info(args):
    from audition.host import effective_buffer
    from audition.model_file import open_export

    for path in export_files(args.models):
        e = open_export(path)
        print(f"{e.path}  ({e.path.stat().st_size / 1e6:.1f} MB, saved by {e.saved_by()})")
        print(f"  methods found by {e.discovery}; sample rate {e.sampling_rate or 'not declared (host rate)'}")
        for m in e.methods.values():
            print(f"  {m.name}: {m.in_channels} in (ratio {m.in_ratio}) -> {m.out_channels} out (ratio {m.out_ratio})")
            for label in m.input_labels:
                print(f"      in : {label}")
            for label in m.output_labels[:4]:
                print(f"      out: {label}")
        if e.attributes():
            print(f"  attributes: {', '.join(e.attributes())}")
        plays = ", ".join(f"{b} -> {effective_buffer(e, b)}" for b in (*BENCH_BUFFERS[:2], 1000, DEFAULT_BUFFER))
        print(f"  host buffer (asked -> played, the same for every method): {plays}")


def parse_grid(spec: str, labels: list[str]) -> tuple[int, np.ndarray]:
    try:
        inlet, rng = spec.split("=")
        lo, hi, steps = rng.split(":")
        values = np.linspace(float(lo), float(hi), int(steps))
    except ValueError:
        raise UserError(f"--grid {spec!r}: write INLET=LOW:HIGH:STEPS, e.g. control=1:38:5 or 2=1:18:4")
    if inlet.isdigit():
        index = int(inlet) - 1
    else:
        hits = [i for i, l in enumerate(labels) if f" {inlet}:" in l or l.endswith(f" {inlet}")]
        if not hits:
            raise UserError(f"--grid: no inlet named {inlet!r}; inlets: {'; '.join(labels)}")
        index = hits[0]
    if not 0 <= index < len(labels):
        raise UserError(f"--grid: inlet {inlet} does not exist; the method has {len(labels)} inlet(s)")
    return index, values


def parse_set(spec: str, sr: int) -> tuple[int, str, str]:
    """--set NAME=VALUE@SECONDS -> (sample, name, value)."""
    try:
        name, rest = spec.split("=", 1)
        value, at = rest.rsplit("@", 1) if "@" in rest else (rest, "0")
        return int(round(float(at) * sr)), name, value
    except ValueError:
        raise UserError(f"--set {spec!r}: write NAME=VALUE@SECONDS, e.g. seed=7@2.0")


def cmd_render(args):
    import torch

    from audition import sources
    from audition.host import Host
    from audition.model_file import open_export

    host_name = "unthreaded" if args.no_thread else args.host
    # the host's messages (buffer switched, method not found) once; every render then gets a fresh model
    first = Host(open_export(args.model), args.method, args.buffer, host_name, args.load_delay, args.strict)
    export, m = first.export, first.spec
    changes = [parse_set(spec, args.sr) for spec in args.set]
    if len(args.inputs) != m.in_channels:
        raise UserError(
            f"{export.path.name}:{m.name} has {m.in_channels} inlet(s) ({'; '.join(m.input_labels)}), "
            f"but {len(args.inputs)} --in source(s) were given"
        )
    base = np.stack([sources.make(s, args.seconds, args.sr) for s in args.inputs])
    out = Path(args.out or f"renders/{export.path.stem}_{m.name}.wav")
    jobs = [(out, base)]
    if args.grid:
        index, values = parse_grid(args.grid, m.input_labels)
        jobs = []
        for v in values:
            x = base.copy()
            x[index] = v
            jobs.append((out.with_name(f"{out.stem}_in{index + 1}={v:g}.wav"), x))
    nonfinite_files = []
    for path, x in jobs:
        torch.manual_seed(args.seed)
        host = Host(export.fresh(), m.name, args.buffer, host_name, args.load_delay, args.strict, quiet=True)
        y = host.run(x, True, changes)[0, :, : x.shape[-1]] if args.align else host.play(x, True, changes)[0]
        bad = int((~np.isfinite(y)).sum())
        over = int((np.abs(np.nan_to_num(y)) > 1.0).sum())
        write_wav(path, y, args.sr, subtype="FLOAT")
        peak = float(np.abs(np.nan_to_num(y)).max()) if y.size else 0.0
        print(
            f"wrote {path} ({y.shape[-1] / args.sr:.1f} s, {y.shape[0]} ch, peak {peak:.3f}, "
            f"latency {'compensated' if args.align else f'{host.latency} samples'})"
        )
        if bad or over:
            warn(
                f"{path}: the model produced {bad} NaN/inf sample(s) and {over} sample(s) above 0 dBFS "
                f"(peak {20 * np.log10(max(peak, 1e-12)):+.1f} dBFS)"
            )
        if bad:
            nonfinite_files.append(path)
    if nonfinite_files and not args.allow_nonfinite:
        raise UserError(
            f"{len(nonfinite_files)} render(s) hold NaN/inf samples, which a host plays as silence or "
            f"garbage and which poison a streaming model's state ({nonfinite_files[0]}); guard the input "
            "or pass --allow-nonfinite to keep them"
        )


def cmd_validate(args):
    from audition.validate import validate

    failures_all = 0
    for path in export_files(args.models):
        failures, warnings = validate(path)
        for w in warnings:
            print(f"warn: {w}")
        for f in failures:
            print(f"FAIL: {f}")
        print(f"{'ok  ' if not failures else 'FAIL'}: {path}")
        failures_all += len(failures)
    if failures_all:
        sys.exit(1)


def cmd_bench(args):
    from audition.bench import bench_in_fresh_process, table, worst_table

    rows = []
    for path in export_files(args.models):
        print(f"benchmarking {path} ...", file=sys.stderr)
        rows += bench_in_fresh_process(path, tuple(args.buffers), args.blocks)
    print(table(rows))
    if args.blocks:
        print("\n" + worst_table(rows))
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
        print(f"wrote {args.json}")


def add_render(sub) -> None:
    from audition import sources

    what = "render sources through a method, block by block as nn~ does"
    p = command(sub, "render", what, epilog=f"sources: an audio file or {sources.describe()}")
    p.add_argument("model")
    p.add_argument("--method", default="forward")
    p.add_argument("--in", dest="inputs", action="append", default=[], help="one per inlet, in order")
    p.add_argument("--seconds", type=number(float, 1e-3, 3600.0, "--seconds"), default=4.0)
    p.add_argument("--sr", type=number(int, 8000, 384000, "--sr"), default=SR)
    p.add_argument(
        "--buffer",
        type=number(int, 1, 1 << 16, "--buffer"),
        default=DEFAULT_BUFFER,
        help="host buffer; rounded up to a power of two and raised to the largest ratio, as hosts do",
    )
    p.add_argument(
        "--host",
        choices=list(PROFILES),
        default="nn~",
        help="nn~ (Pd/Max, 2N-64), nn~-unsized (no [bufsize N( sent: a 1-in/1-out method 4096+N-64 late), "
        "nn.ar (real time, 2N-64), nn.ar-nrt (N-64), unthreaded (N)",
    )
    p.add_argument(
        "--load-delay",
        type=number(int, 0, 10 * SR, "--load-delay"),
        default=0,
        help="nn.ar: samples of input lost while the model loads (measured 512-1792)",
    )
    p.add_argument(
        "--strict", action="store_true", help="an unknown method is an error instead of the host's fallback to forward"
    )
    p.add_argument("--no-thread", action="store_true", help="same as --host unthreaded")
    p.add_argument("--allow-nonfinite", action="store_true", help="exit 0 even when the output holds NaN/inf")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE@SECONDS",
        help="set a model attribute while playing, as [set NAME VALUE( in Pd (repeatable), e.g. seed=7@2.0",
    )
    p.add_argument("--align", action="store_true", help="remove the host latency (for analysis)")
    p.add_argument("--grid", default=None, help="INLET=LOW:HIGH:STEPS: one render per constant value of that inlet")
    p.add_argument(
        "--seed",
        type=number(int, *SEED_RANGE, "--seed"),
        default=0,
        help="torch seed before each render (RAVE models are random)",
    )
    p.add_argument("--out", default=None, help="WAV path (default renders/<model>_<method>.wav)")


def command(sub, name: str, what: str, **kw) -> argparse.ArgumentParser:
    """A subcommand, named in its usage line as the user called it."""
    return sub.add_parser(name, prog=program(f"python -m audition {name}"), help=what, **kw)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m audition", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = command(sub, "info", "methods, channels, ratios, labels, attributes, sample rate, size")
    p.add_argument("models", nargs="+", help=".ts files or folders")
    add_render(sub)
    p = command(sub, "validate", "check the nn~ contract; exit 1 with one line per failure")
    p.add_argument("models", nargs="+")
    p = command(sub, "bench", "real-time factor, latency, memory per method and buffer")
    p.add_argument("models", nargs="+")
    p.add_argument("--buffers", type=number(int, 1, 1 << 16, "--buffers"), nargs="+", default=list(BENCH_BUFFERS))
    p.add_argument("--json", default=None, help="also write the rows as JSON")
    p.add_argument(
        "--blocks",
        type=number(int, 0, 10**7, "--blocks"),
        default=0,
        help="also time this many blocks in a row per method and buffer, as nn~'s thread runs them: median, "
        "p99, p99.9, max against the deadline, and the safe buffer",
    )
    p.add_argument(
        "--worst-case",
        action="store_true",
        help=f"buffers {WORST_CASE_BUFFERS[0]}-{WORST_CASE_BUFFERS[-1]} "
        f"and {WORST_CASE_BLOCKS} blocks each (what make bench runs), unless --buffers/--blocks say otherwise",
    )
    return ap


@cli_main
def main(argv=None):
    args = parser().parse_args(argv)
    if getattr(args, "worst_case", False):
        args.blocks = args.blocks or WORST_CASE_BLOCKS
        args.buffers = list(WORST_CASE_BUFFERS) if args.buffers == list(BENCH_BUFFERS) else args.buffers
    use_host_threads()
    {"info": cmd_info, "render": cmd_render, "validate": cmd_validate, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
