"""Benchmark: RAVE's own DataLoader against the project's (rave_pipeline/loader.py) over 3 epochs of a small
database, as `rave train` builds them (RAVE's dataset, its crops and phase mangling, shuffled, drop_last).
Each timing starts the loader and reads every batch of 3 epochs; the two alternate in pairs
(audition.bench.paired). Prints batches/s of each and the ratio; never asserts.

    python -m rave_pipeline.bench_loader [--chunks 64] [--batch 8] [--workers 2] [--epochs 3] [--pairs 6]
"""
import argparse
import os
import shutil
import tempfile
from pathlib import Path

from audition.bench import paired
from rave_pipeline import recipes
from rave_pipeline.synthetic_db import synthetic_database
from safeio import cli_main


def epochs(make_loader, dataset, batch: int, workers: int, n: int) -> int:
    loader = make_loader(dataset, batch, True, drop_last=True, num_workers=workers)
    batches = 0
    for _ in range(n):
        for _ in loader:
            batches += 1
    return batches


@cli_main
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="rave-to-chaos bench-loader", description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default="noise", help="its n_signal and sampling rate")
    ap.add_argument("--chunks", type=int, default=64, help="database chunks (each 2 x n_signal, as rave preprocess cuts)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=6)
    a = ap.parse_args(argv)
    import rave.dataset
    from torch.utils.data import DataLoader

    from rave_pipeline.loader import SteadyLoader

    recipe = recipes.load(a.recipe)
    work = Path(tempfile.mkdtemp(prefix="bench-loader-"))
    try:
        db = synthetic_database(work / "db", a.chunks, 2 * recipe.n_signal, recipe.sampling_rate)
        dataset = rave.dataset.get_dataset(str(db), recipe.sampling_rate, recipe.n_signal)
        count = epochs(DataLoader, dataset, a.batch, a.workers, a.epochs)
        r = paired(lambda: epochs(DataLoader, dataset, a.batch, a.workers, a.epochs),
                   lambda: epochs(SteadyLoader, dataset, a.batch, a.workers, a.epochs),
                   pairs=a.pairs, min_time=0, warmup=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{a.chunks} chunks of {2 * recipe.n_signal} samples, batch {a.batch}, {a.workers} workers: "
          f"{a.epochs} epochs = {count} batches, {a.pairs} pairs")
    print(f"RAVE's loader     {count / r['a_s']:8.1f} batches/s")
    print(f"the project's     {count / r['b_s']:8.1f} batches/s")
    print(f"speed-up          {1 / r['median']:8.2f}x  (median of the pairs; IQR {1 / r['q3']:.2f}-{1 / r['q1']:.2f})")


if __name__ == "__main__":
    main()
