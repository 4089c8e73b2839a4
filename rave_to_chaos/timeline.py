"""rave-to-chaos timeline RECIPE [--every k] [--inputs a.wav ...]: hear and measure how a run learned.

Exports each kept checkpoint of the recipe's run once (rave_pipeline.commands.export.timeline_exports, cached by
the checkpoint's sha256), renders compare's input set plus yours through each as nn~ would, and writes
<ROOT>/reports/timeline-<run>/index.html and metrics.json (compare/timeline.py), one folder per run (and TAG),
one timeline of a run at a time. Works on a run that is still
training: only complete checkpoints are read.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from safeio import UserError, cli_main, number, program, warn


def parser() -> argparse.ArgumentParser:
    from rave_pipeline.commands import options

    ap = argparse.ArgumentParser(prog=program("python -m rave_to_chaos.timeline"), description=__doc__)
    ap.add_argument("recipe", help="recipe name (configs/<name>.toml) or a .toml path")
    options.add_to(ap, scopes=(options.DATA, options.TIMELINE))
    ap.add_argument("--out", default=None, help="report folder (default <ROOT>/reports/timeline-<run>)")
    ap.add_argument(
        "--jobs",
        type=number(int, 1, 256, "--jobs"),
        default=os.cpu_count() or 1,
        help="checkpoints measured at once, one process each (default: one per CPU core)",
    )
    ap.add_argument("--from-make", action="store_true", help="also read ROOT, EVERY, INPUTS ... from make variables")
    return ap


def print_summary(report: dict, out: Path, took: float, exported: float, inputs: int, jobs: int) -> None:
    from compare.timeline_page import fmt

    print(
        f"timeline: {out / 'index.html'} ({len(report['checkpoints'])} checkpoints x {inputs} inputs) in {took:.0f} s "
        f"({exported:.0f} s exporting, the rest rendering and measuring with {jobs} process(es))"
    )
    for c in report["checkpoints"]:
        m = c["metrics"]
        print(
            f"  step {c['step']:>8} · phase {c['phase']} · validation {fmt(m['validation'])} · "
            f"distance {m['reconstruction']:.3f} · homogenisation {m['homogenisation_index']:.2f} · "
            f"modes {m['modes_count']} · >8 kHz {m['hf_share']:.3f} · {m['loudness_db']:.1f} dBFS · "
            f"latent diversity {fmt(m['latent_diversity_ratio'])}"
        )


@cli_main
def main(argv=None):
    from rave_pipeline.commands import options

    args = parser().parse_args(argv)
    if args.from_make:
        options.from_environment(args)

    from audition.host import use_host_threads
    from compare import browser
    from rave_pipeline.commands import recipes, runs

    use_host_threads()
    recipe = recipes.load(
        args.recipe, root=args.root, n_signal=args.n_signal, raw=args.raw, exports=args.exports, tag=args.tag
    )
    runs.tidy(recipe.root, recipe.export_path.parent)
    mine = [Path(p) for p in args.inputs]
    for p in mine:
        if not p.is_file():
            raise UserError(f'INPUTS: {p} is not a file; name audio files (INPUTS="a.wav b.wav")')
    out = Path(args.out) if args.out else recipe.root / "reports" / f"timeline-{recipe.run_name}"
    lock = out.parent / f".{out.name}.lock"
    with runs.exclusive(lock, out, "written by a timeline"):  # one timeline of a run at a time
        report, took, exported, inputs = measure(recipe, args, mine, out)
    print_summary(report, out, took, exported, inputs, args.jobs)
    if browser.chromium():
        found = browser.problems(browser.check(out))
        print(f"opened in headless Chromium: {'no problems' if not found else f'{len(found)} problem(s)'}")
        for line in found:
            print(f"  {line}")
        return 1 if found else 0


def measure(recipe, args, mine: list, out: Path) -> tuple[dict, float, float, int]:
    """Export the kept checkpoints, render and measure them. -> (report, seconds, seconds exporting, inputs)."""
    from compare import latent, probes, timeline
    from rave_pipeline.commands.export import timeline_exports
    from safeio.database import chunks

    t0 = time.perf_counter()
    records = timeline_exports(recipe, args.every or 1)
    exported = time.perf_counter() - t0
    inputs = inputs_of(recipe, mine)
    data = []
    try:
        data = chunks(recipe.db_dir, latent.DATA_CHUNKS, int(latent.SECONDS * probes.SR))
    except UserError as e:
        warn(f"latent statistics of the training data not measured: {e}")
    report = timeline.build(records, inputs, out, title_of(recipe), data, key=str(recipe.db_dir), jobs=args.jobs)
    return report, time.perf_counter() - t0, exported, len(inputs)


def inputs_of(recipe, mine: list) -> dict:
    """What every checkpoint plays: the first, a middle and the last recording of the run's raw folder
    (subfolders too, named by their path there), compare's synthetic probes and the user's INPUTS."""
    from compare import probes
    from rave_pipeline.data.recordings import raw_files

    try:
        files = raw_files(recipe.raw_dir)
    except UserError as e:
        warn(f"none of the run's recordings on the timeline: {e}")
        files = []
    picks = list(dict.fromkeys(files[i] for i in (0, len(files) // 2, -1))) if files else []
    names = [f"{recipe.name}/{p.relative_to(recipe.raw_dir).with_suffix('')}" for p in picks]
    return {**probes.recordings(picks, names=names), **probes.synthetic(), **probes.recordings(mine)}


def title_of(recipe) -> dict:
    """The report's heading: which run, its config and database, and where its phase 2 begins."""
    from rave_pipeline.commands import checkpoints

    return {
        "recipe": recipe.name,
        "run": recipe.run_name,
        "config": recipe.config,
        "phase_1_duration": checkpoints.phase_1_of(recipe.runs_dir),
        "database": str(recipe.db_dir),
    }


if __name__ == "__main__":
    sys.exit(main())
