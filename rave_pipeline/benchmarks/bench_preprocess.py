"""Benchmark: our preprocess (check, repair, join, account, then rave preprocess) against plain
`rave preprocess` on the same generated folder. Prints both wall times and their ratio; never asserts.
The two alternate in pairs (audition.timing.paired): the ratio is the median over the pairs, with its IQR.

The folder is a sample library (many 0.5-4 s wav/flac/ogg files at mixed rates) plus a few long
recordings. Plain rave preprocess drops every file shorter than a chunk, so it also stores less audio:
both amounts are printed beside the times.

    python -m rave_pipeline.benchmarks.bench_preprocess [--short 400] [--long 3] [--long-minutes 4] [--pairs 3]
"""

import argparse
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from audition.timing import paired
from rave_pipeline.commands import recipes
from rave_pipeline.data import dataset
from safeio import UserError, cli_main, number, program
from spec.host import SR


def sample_library(raw: Path, files: int, low: float = 0.5, high: float = 4.0, seed: int = 0) -> float:
    """A sound-effect library: many short files of low-high s (wav, flac, ogg at 44.1 or 48 kHz).
    Returns the total seconds."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for i in range(files):
        sr = (SR, 48000)[i % 2]
        seconds = float(rng.uniform(low, high))
        x = (rng.standard_normal(int(seconds * sr)) * rng.uniform(0.05, 0.3)).astype(np.float32)
        ext, fmt = [("wav", "WAV"), ("flac", "FLAC"), ("ogg", "OGG")][i % 3]
        sf.write(str(raw / f"fx {i:03d}.{ext}"), x, sr, format=fmt)
        total += len(x) / sr
    return total


def long_recordings(raw: Path, files: int, minutes: float, seed: int = 1) -> float:
    """A few long field recordings (48 kHz FLAC, resampled by preprocessing), written a minute at a time."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True, exist_ok=True)
    sr = 48000
    for i in range(files):
        with sf.SoundFile(str(raw / f"field {i}.flac"), "w", sr, 1, format="FLAC") as f:
            for _ in range(int(minutes)):
                f.write((rng.standard_normal(60 * sr) * 0.1).astype(np.float32))
    return files * int(minutes) * 60.0


def plain_rave_preprocess(recipe, raw: Path, out: Path) -> float:
    rave = Path(sys.executable).with_name("rave")
    cmd = [
        str(rave),
        "preprocess",
        "--input_path",
        str(raw),
        "--output_path",
        str(out),
        "--num_signal",
        str(recipe.n_signal),
        "--sampling_rate",
        str(recipe.sampling_rate),
        "--channels",
        str(recipe.channels),
        "--max_db_size",
        "64",
    ]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=out.parent)
    return time.perf_counter() - t


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(
        prog=program("python -m rave_pipeline.benchmarks.bench_preprocess"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--recipe", default="noise")
    ap.add_argument("--short", type=number(int, 0, 10**5, "--short"), default=400, help="short files (0.5-4 s)")
    ap.add_argument("--long", type=number(int, 0, 1000, "--long"), default=3, help="long recordings")
    ap.add_argument("--long-minutes", type=number(float, 0.1, 600, "--long-minutes"), default=4)
    ap.add_argument(
        "--pairs",
        type=number(int, 1, 100, "--pairs"),
        default=3,
        help="plain and ours timed back to back this many times",
    )
    args = ap.parse_args(argv)
    if args.short + args.long == 0:
        raise UserError("--short 0 and --long 0 leave nothing to preprocess: give at least one file")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = tmp / "raw"
        seconds = sample_library(raw, args.short) + long_recordings(raw, args.long, args.long_minutes)
        recipe = dataclasses.replace(recipes.load(args.recipe), root=tmp, raw="raw")
        print(
            f"folder: {args.short} short files + {args.long} x {args.long_minutes:g} min, {seconds / 60:.1f} "
            f"min of audio; "
            f"recipe {recipe.name} (n_signal {recipe.n_signal}, {recipe.sampling_rate} Hz)"
        )
        stored = {}

        def plain():
            shutil.rmtree(tmp / "plain-db", ignore_errors=True)
            plain_rave_preprocess(recipe, raw, tmp / "plain-db")
            stored["plain"] = dataset.db_entries(tmp / "plain-db") * recipe.chunk_seconds

        def ours():
            dataset.preprocess(recipe, force=True)
            stored["ours"] = dataset.db_entries(recipe.db_dir) * recipe.chunk_seconds

        r = paired(plain, ours, pairs=args.pairs, min_time=0, warmup=0)
    print(f"\n{'':<22} {'wall s':>8} {'audio in db':>12}   (median of {args.pairs} pairs)")
    print(f"{'plain rave preprocess':<22} {r['a_s']:>8.2f} {stored['plain'] / 60:>10.1f} m")
    print(f"{'make preprocess':<22} {r['b_s']:>8.2f} {stored['ours'] / 60:>10.1f} m")
    print(
        f"ratio plain/ours: {1 / r['median']:.2f} (IQR {1 / r['q3']:.2f}-{1 / r['q1']:.2f}; >= 1: ours is as "
        f"fast or faster)"
    )


if __name__ == "__main__":
    sys.exit(main())
