"""Benchmark: what the NaN guards cost. For every trained export (its manifest names the run it came
from), acids-rave's unguarded export is made again from the same checkpoint, and both run `forward`
block by block at the host buffer, in pairs timed back to back, the order alternating, so that the
machine's drift hits both alike (audition.timing.paired). Prints the median ms per block of each and the
median of the per-pair ratios with its interquartile range; never asserts.

    python -m rave_pipeline.benchmarks.bench_guard [exports/] [--pairs 25] [--buffer 2048]
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from audition.host import use_host_threads
from audition.model_file import export_files, open_export
from audition.timing import paired
from safeio import UserError, cli_main, program
from safeio.environment import child_env
from spec import names
from spec.host import DEFAULT_BUFFER


def unguarded_twin(run: Path, out: Path) -> Path:
    env = child_env(RAVE_PIPELINE_NAN_GUARD="0", CUDA_VISIBLE_DEVICES="")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "rave_pipeline.inside_rave.rave_cli",
            "export",
            "--run",
            str(run),
            "--streaming",
            "--output",
            str(out),
            "--name",
            "unguarded",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if r.returncode:
        raise UserError(f"rave export of {run} failed: {r.stderr.strip().splitlines()[-1:]}")
    return out / ("unguarded" + names.TRAINED_SUFFIX)


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(
        prog=program("python -m rave_pipeline.benchmarks.bench_guard"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("exports", nargs="?", default="exports")
    ap.add_argument("--pairs", type=int, default=25, help="interleaved timings of each (audition.timing.paired)")
    ap.add_argument("--buffer", type=int, default=DEFAULT_BUFFER)
    args = ap.parse_args(argv)
    use_host_threads()
    trained = [p for p in export_files([args.exports]) if open_export(p).manifest.get("kind") == "trained"]
    if not trained:
        raise UserError(f"no trained export in {args.exports}: run make export-noise (or make demo) first")
    print(
        f"forward at buffer {args.buffer}, {args.pairs} interleaved pairs (median ratio and its interquartile range); "
        f"{torch.get_num_threads()} thread(s)"
    )
    for path in trained:
        run = Path(open_export(path).manifest.get("source_run", ""))
        if not run.is_dir():
            print(f"  {path.name}: its run {run} is gone, nothing to compare with")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            twin = unguarded_twin(run, Path(tmp))
            guarded, plain = (torch.jit.load(str(p)) for p in (path, twin))
            x = torch.randn(1, 1, args.buffer) * 0.1
            with torch.inference_mode():
                r = paired(lambda: plain.forward(x), lambda: guarded.forward(x), pairs=args.pairs)
        print(
            f"  {path.name}: guarded {1e3 * r['b_s']:.2f} ms, unguarded {1e3 * r['a_s']:.2f} ms per block: "
            f"ratio {r['median']:.3f} [IQR {r['q1']:.3f}, {r['q3']:.3f}]"
        )


if __name__ == "__main__":
    sys.exit(main())
