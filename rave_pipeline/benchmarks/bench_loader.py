"""Benchmark: RAVE's own DataLoader against the project's (rave_pipeline/inside_rave/loader.py) over 3 epochs of a small
database, as `rave train` builds them (RAVE's dataset, its crops and phase mangling, shuffled, drop_last).
Each timing starts the loader and reads every batch of 3 epochs; the two alternate in pairs
(audition.timing.paired). Prints batches/s of each and the ratio; never asserts.

    python -m rave_pipeline.benchmarks.bench_loader [--chunks 64] [--batch 8] [--workers 2] [--epochs 3] [--pairs 6]
"""

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from audition.timing import paired
from rave_pipeline.commands import recipes
from safeio import UserError, cli_main, number, program
from safeio.database import synthetic_database


def epochs(make_loader, dataset, batch: int, workers: int, n: int) -> None:
    loader = make_loader(dataset, batch, True, drop_last=True, num_workers=workers)
    for _ in range(n):
        for _ in loader:
            pass


@cli_main
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        prog=program("python -m rave_pipeline.benchmarks.bench_loader"), description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--recipe", default="noise", help="its n_signal and sampling rate")
    ap.add_argument(
        "--chunks",
        type=number(int, 1, 10**5, "--chunks"),
        default=64,
        help="database chunks (each 2 x n_signal, as rave preprocess cuts)",
    )
    ap.add_argument("--batch", type=number(int, 1, 4096, "--batch"), default=8)
    ap.add_argument("--workers", type=number(int, 0, 256, "--workers"), default=min(2, os.cpu_count() or 1))
    ap.add_argument("--epochs", type=number(int, 1, 1000, "--epochs"), default=3)
    ap.add_argument("--pairs", type=number(int, 1, 1000, "--pairs"), default=6)
    a = ap.parse_args(argv)
    if a.chunks < a.batch:
        raise UserError(
            f"--chunks {a.chunks} is less than one --batch of {a.batch}: an epoch would have no batch (drop_last)"
        )
    import rave.dataset
    from torch.utils.data import DataLoader

    from rave_pipeline.inside_rave.loader import SteadyLoader

    recipe = recipes.load(a.recipe)
    work = Path(tempfile.mkdtemp(prefix="bench-loader-"))
    try:
        db = synthetic_database(work / "db", a.chunks, 2 * recipe.n_signal, recipe.sampling_rate)
        dataset = rave.dataset.get_dataset(str(db), recipe.sampling_rate, recipe.n_signal)
        count = a.epochs * (len(dataset) // a.batch)  # drop_last: whole batches only
        r = paired(
            lambda: epochs(DataLoader, dataset, a.batch, a.workers, a.epochs),
            lambda: epochs(SteadyLoader, dataset, a.batch, a.workers, a.epochs),
            pairs=a.pairs,
            min_time=0,
            warmup=1,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{a.chunks} chunks of {2 * recipe.n_signal} samples, batch {a.batch}, {a.workers} workers: "
        f"{a.epochs} epochs = {count} batches, {a.pairs} pairs"
    )
    print(f"RAVE's loader     {count / r['a_s']:8.1f} batches/s")
    print(f"the project's     {count / r['b_s']:8.1f} batches/s")
    print(f"speed-up          {1 / r['median']:8.2f}x  (median of the pairs; IQR {1 / r['q3']:.2f}-{1 / r['q1']:.2f})")


if __name__ == "__main__":
    main()
