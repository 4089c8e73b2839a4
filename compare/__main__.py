"""python -m compare [EXPORTS...] [--inputs FILES...] [--out reports/compare] — the comparison report."""
import argparse
import os
import sys
from pathlib import Path

from safeio import UserError, cli_main

REPO = Path(__file__).resolve().parents[1]


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m compare", description=__doc__)
    ap.add_argument("exports", nargs="*", default=["exports"], help=".ts files or folders (default exports/)")
    ap.add_argument("--inputs", nargs="*", default=None, help="audio files (default: two of each demo dataset)")
    ap.add_argument("--out", default="reports/compare")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from compare import probes, report

    files = []
    for p in map(Path, args.exports):
        files += sorted(p.glob("*.ts")) if p.is_dir() else [p]
    if not files:
        raise UserError(f"no .ts files in {', '.join(args.exports)}: run make export-chaos or make demo first")
    inputs = [Path(p) for p in args.inputs] if args.inputs is not None else probes.default_recordings(REPO)
    result = report.build(files, inputs, Path(args.out))
    for c in result["claims"]:
        print(f"[{c['verdict']}] {c['claim']} -- {c['evidence']}")
    print(f"report: {Path(args.out) / 'index.html'} ({len(result['models'])} model-methods, {len(result['skipped'])} skipped)")


if __name__ == "__main__":
    sys.exit(main())
