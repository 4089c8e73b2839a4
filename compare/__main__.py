"""python -m compare [EXPORTS...] [--inputs FILES...] [--out reports/compare] — the comparison report."""
import argparse
import sys
from pathlib import Path

from safeio import cli_main


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m compare", description=__doc__)
    ap.add_argument("exports", nargs="*", default=["exports"], help=".ts files or folders (default exports/)")
    ap.add_argument("--inputs", nargs="*", default=None, help="audio files (default: two of each datasets/*/raw/ here, the demo recordings in a checkout)")
    ap.add_argument("--out", default="reports/compare")
    args = ap.parse_args(argv)
    from audition.host import use_host_threads
    from audition.model_file import export_files
    from compare import probes, report

    use_host_threads()
    files = export_files(args.exports)
    inputs = [Path(p) for p in args.inputs] if args.inputs is not None else probes.default_recordings(Path.cwd())
    result = report.build(files, inputs, Path(args.out))
    for c in result["claims"]:
        print(f"[{c['verdict']}] {c['claim']} -- {c['evidence']}")
    print(f"report: {Path(args.out) / 'index.html'} ({len(result['models'])} model-methods, {len(result['skipped'])} skipped)")


if __name__ == "__main__":
    sys.exit(main())
