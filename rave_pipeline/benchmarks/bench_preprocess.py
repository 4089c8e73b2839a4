"""Benchmark: our preprocess (check, repair, join, account, then rave preprocess) against plain
`rave preprocess` on the same generated folder. Prints both wall times and their ratio; never asserts.
The two alternate in pairs (audition.timing.paired): the ratio is the median over the pairs, with its IQR.

Three generated folders (wav/flac/ogg at 44.1 and 48 kHz), each a shape of real libraries:
  tiny   2,000 one-shots of 20 ms (drum hits, grains)
  short  500 sound effects of 0.5-4 s
  mixed  400 effects of 0.5-4 s plus 3 recordings of 4 min
Per shape: both wall times, the time per file, the ratio, and the audio each stored (plain rave
preprocess drops every file shorter than a chunk, so it stores less). --scale shrinks every count.

    python -m rave_pipeline.benchmarks.bench_preprocess [--shapes tiny,short,mixed] [--scale 1] [--pairs 3]
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


SHAPES = {  # name: (short files, their shortest and longest seconds, long recordings, their minutes)
    "tiny": (2000, 0.02, 0.02, 0, 0),
    "short": (500, 0.5, 4.0, 0, 0),
    "mixed": (400, 0.5, 4.0, 3, 4),
}


def shapes(text: str) -> list:
    names = [t for t in text.split(",") if t]
    wrong = [n for n in names if n not in SHAPES]
    if wrong or not names:
        raise argparse.ArgumentTypeError(f"unknown shape {wrong or text!r}: choose from {', '.join(SHAPES)}")
    return names


def counts(name: str, scale: float) -> tuple[int, int]:
    """(short files, long recordings) of a shape at --scale."""
    return round(SHAPES[name][0] * scale), round(SHAPES[name][3] * scale)


def run_shape(name: str, recipe_name: str, scale: float, pairs: int) -> dict:
    _, low, high, _, minutes = SHAPES[name]
    n_short, n_long = counts(name, scale)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = tmp / "raw"
        seconds = sample_library(raw, n_short, low, high) + long_recordings(raw, n_long, minutes)
        recipe = dataclasses.replace(recipes.load(recipe_name), root=tmp, raw="raw")
        stored = {}

        def plain():
            shutil.rmtree(tmp / "plain-db", ignore_errors=True)
            plain_rave_preprocess(recipe, raw, tmp / "plain-db")
            stored["plain"] = dataset.db_entries(tmp / "plain-db") * recipe.chunk_seconds

        def ours():
            dataset.preprocess(recipe, force=True)
            stored["ours"] = dataset.db_entries(recipe.db_dir) * recipe.chunk_seconds

        r = paired(plain, ours, pairs=pairs, min_time=0, warmup=0)
    return {"files": n_short + n_long, "seconds": seconds, **r, **stored}


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(
        prog=program("python -m rave_pipeline.benchmarks.bench_preprocess"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--recipe", default="noise")
    ap.add_argument("--shapes", type=shapes, default=list(SHAPES), help="comma-separated: " + ",".join(SHAPES))
    ap.add_argument("--scale", type=number(float, 0.001, 10, "--scale"), default=1.0, help="multiplies every count")
    ap.add_argument(
        "--pairs",
        type=number(int, 1, 100, "--pairs"),
        default=3,
        help="plain and ours timed back to back this many times",
    )
    args = ap.parse_args(argv)
    for name in args.shapes:
        if sum(counts(name, args.scale)) == 0:
            raise UserError(f"--scale {args.scale:g} leaves no file in shape {name}: give a larger --scale")
    rows = {name: run_shape(name, args.recipe, args.scale, args.pairs) for name in args.shapes}
    print(f"recipe {args.recipe}; times are the median of {args.pairs} pair(s), plain and ours back to back")
    print(
        f"{'shape':<6} {'files':>6} {'audio':>8} {'plain s':>8} {'ours s':>8} {'plain ms/file':>14} "
        f"{'ours ms/file':>13} {'ratio plain/ours (IQR)':>23} {'in db plain/ours':>17}"
    )
    for name, r in rows.items():
        n = r["files"]
        print(
            f"{name:<6} {n:>6} {r['seconds'] / 60:>6.1f} m {r['a_s']:>8.2f} {r['b_s']:>8.2f} "
            f"{r['a_s'] / n * 1000:>14.1f} {r['b_s'] / n * 1000:>13.1f} "
            f"{1 / r['median']:>10.2f} ({1 / r['q3']:.2f}-{1 / r['q1']:.2f}) "
            f"{r['plain'] / 60:>7.1f}/{r['ours'] / 60:.1f} m"
        )


if __name__ == "__main__":
    sys.exit(main())
