"""Benchmark: what the NaN guards cost. For every trained export (its manifest names the run it came
from), acids-rave's unguarded export is made again from the same checkpoint, and both run `forward`
block by block at the host buffer, interleaved (guarded, unguarded, guarded, ...) so that the machine's
drift hits both alike. Prints the median ms per block of each and their ratio; never asserts.

    python -m rave_pipeline.bench_guard [exports/] [--blocks 200] [--buffer 2048]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from audition.host import use_host_threads
from spec.host import DEFAULT_BUFFER
from audition.model_file import export_files, open_export
from safeio import UserError, cli_main
from spec import names


def unguarded_twin(run: Path, out: Path) -> Path:
    env = {**os.environ, "RAVE_PIPELINE_NAN_GUARD": "0", "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run([sys.executable, "-m", "rave_pipeline.rave_cli", "export", "--run", str(run), "--streaming",
                        "--output", str(out), "--name", "unguarded"], env=env, capture_output=True, text=True)
    if r.returncode:
        raise UserError(f"rave export of {run} failed: {r.stderr.strip().splitlines()[-1:]}")
    return out / ("unguarded" + names.TRAINED_SUFFIX)


def interleaved(models: list, blocks: int, buffer: int) -> list[float]:
    """Median ms per forward block of each model, timed in turn on the same input."""
    x = torch.randn(1, 1, buffer) * 0.1
    times = [[] for _ in models]
    with torch.inference_mode():
        for m in models:                 # warm-up: first calls compile and allocate
            for _ in range(5):
                m.forward(x)
        for _ in range(blocks):
            for i, m in enumerate(models):
                t0 = time.perf_counter()
                m.forward(x)
                times[i].append(1000 * (time.perf_counter() - t0))
    return [statistics.median(t) for t in times]


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("exports", nargs="?", default="exports")
    ap.add_argument("--blocks", type=int, default=200)
    ap.add_argument("--buffer", type=int, default=DEFAULT_BUFFER)
    args = ap.parse_args(argv)
    use_host_threads()
    trained = [p for p in export_files([args.exports]) if open_export(p).manifest.get("kind") == "trained"]
    if not trained:
        raise UserError(f"no trained export in {args.exports}: run make export-noise (or make demo) first")
    print(f"forward at buffer {args.buffer}, {args.blocks} blocks each, interleaved; {torch.get_num_threads()} thread(s)")
    for path in trained:
        run = Path(open_export(path).manifest.get("source_run", ""))
        if not run.is_dir():
            print(f"  {path.name}: its run {run} is gone, nothing to compare with")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            twin = unguarded_twin(run, Path(tmp))
            guarded, plain = (torch.jit.load(str(p)) for p in (path, twin))
            g, u = interleaved([guarded, plain], args.blocks, args.buffer)
        print(f"  {path.name}: guarded {g:.2f} ms, unguarded {u:.2f} ms per block: ratio {g / u:.3f}")


if __name__ == "__main__":
    sys.exit(main())
