"""python -m compare [EXPORTS...] [--inputs FILES...] [--out reports/compare] — the comparison report."""

import argparse
import os
import sys
import time
from pathlib import Path

from safeio import UserError, cli_main, number, program, warn


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=program("python -m compare"), description=__doc__)
    ap.add_argument("exports", nargs="*", default=["exports"], help=".ts files or folders (default exports/)")
    ap.add_argument(
        "--inputs",
        nargs="*",
        default=None,
        help="audio files (default: two of each datasets/*/raw/ here, the demo recordings in a checkout)",
    )
    ap.add_argument("--out", default="reports/compare")
    ap.add_argument(
        "--seeds",
        type=number(int, 0, 4096, "--seeds"),
        default=16,
        help="judge the claims over ChaosEffect rebuilt from this many seeds (and a quarter as many at each "
        "other usable w_mult); 0: only the exports given (default 16)",
    )
    ap.add_argument(
        "--jobs",
        type=number(int, 1, 256, "--jobs"),
        default=os.cpu_count() or 1,
        help="exports analysed at once, one process each (default: one per CPU core)",
    )
    return ap


@cli_main
def main(argv=None):
    args = parser().parse_args(argv)
    from audition.host import use_host_threads
    from audition.model_file import export_files
    from compare import probes, report

    use_host_threads()
    files = export_files(args.exports)
    inputs = [Path(p) for p in args.inputs] if args.inputs is not None else probes.default_recordings(Path.cwd())
    t0 = time.perf_counter()
    result = report.build(files, inputs, Path(args.out), jobs=args.jobs, seeds=args.seeds)
    took = time.perf_counter() - t0
    out = Path(args.out)
    print_summary(result, out, took, args.jobs)
    return check_in_browser(out)


def print_summary(result: dict, out: Path, took: float, jobs: int) -> None:
    """The verdicts, one line each, then where the report is and what it holds."""
    for c in result["claim_summary"]:
        effect = "" if c["effect"] is None else f"; effect {c['effect']:.3g} {c['unit']}"
        interval = f" [{c['interval'][0]:.3g}, {c['interval'][1]:.3g}]" if c["interval"] else ""
        print(f"[{c['verdict']}] {c['claim']} ({c['holds']}{effect}{interval})")
    if result["family"]["members"]:
        print(
            f"ChaosEffect's family: {len(result['family']['members'])} instruments, "
            f"{result['family']['seconds']:.0f} s of analysis (all processes)"
        )
    for c in result["family"]["claims"]:
        print(
            f"[{c['verdict']}] ChaosEffect family, {c['method']}, {c['scope']}: {c['claim']} ({c['holds']} instruments)"
        )
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    print(
        f"report: {out / 'index.html'} ({len(result['models'])} model-methods, "
        f"{len(result['family']['members'])} family "
        f"instruments, {len(result['skipped'])} skipped, {size:.1f} MB) in {took:.0f} s with {jobs} process(es)"
    )


def check_in_browser(out: Path) -> int:
    from compare import browser

    if browser.chromium():  # open it as a reader would: console errors, missing figures or clips
        try:
            checked = browser.check(out)
        except UserError as e:
            warn(str(e))
            return 0
        found = browser.problems(checked)
        print(
            f"opened in headless Chromium: {len(checked['images'])} figures, {len(checked['audio'])} audio players, "
            f"{'no problems' if not found else f'{len(found)} problem(s)'}; first screen: {checked['screenshot']}"
        )
        for line in found:
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
