"""python -m rave_pipeline {preprocess,train,export} RECIPE [options] — the Makefile's RAVE targets."""
import argparse
import os
import sys
from pathlib import Path

from safeio import cli_main


def count(minimum: int, variable: str):
    """argparse type: a whole number >= minimum, said in one sentence naming the make variable."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{variable}={text} is not a whole number of {minimum} or more")
        return value
    parse.__name__ = f"whole number >= {minimum}"
    return parse


def recipe_from(args):
    from rave_pipeline import recipes

    return recipes.load(args.recipe, root=args.root, n_signal=args.n_signal, max_steps=args.max_steps,
                        val_every=args.val_every, save_every=args.save_every,
                        augment=None if args.augment is None else [a for a in args.augment.split(",") if a and a != "none"],
                        raw=args.raw, exports=args.exports, tag=args.tag)


# Options a job passes on: the export needs the data ones, training all of them.
DATA_OPTIONS = ("root", "tag", "raw", "exports", "n_signal", "augment")
TRAIN_OPTIONS = DATA_OPTIONS + ("batch", "gpu", "device", "max_steps", "val_every", "save_every", "workers", "override", "fresh")


def forwarded(args, names) -> list[str]:
    """argv for `python -m rave_pipeline` in a job, from the parsed options (--root made absolute)."""
    out = []
    for name in names:
        value, flag = getattr(args, name), "--" + name.replace("_", "-")
        if name == "root" and value is not None:
            out += [flag, str(Path(value).resolve())]
        elif name == "override":
            for binding in value:
                out += [flag, binding]
        elif name == "fresh":
            out += [flag] if value else []
        elif value is not None:
            out += [flag, str(value)]
    return out


def export_all(args) -> None:
    """Every recipe's newest checkpoint, then the hand-written instruments, into the same exports/."""
    import subprocess

    from rave_pipeline import recipes
    from rave_pipeline.export import export

    out_dir = None
    for name in recipes.names():
        args.recipe = name
        recipe = recipe_from(args)
        export(recipe)
        out_dir = recipe.export_path.parent
    targets = []   # the hybrid is fine-tuned toward the noise recordings, as make export-chaos does
    if "noise" in recipes.names():
        noise_raw = recipe_from(argparse.Namespace(**{**vars(args), "recipe": "noise", "raw": None})).raw_dir
        targets = sorted(noise_raw.glob("*.wav")) if noise_raw.is_dir() else []
    for cmd in (["export-essay", "--out-dir", str(out_dir)],
                ["export-beyond", "--out-dir", str(out_dir), "--targets", *map(str, targets)]):
        if subprocess.run([sys.executable, "-m", "chaos_models", *cmd]).returncode:
            raise SystemExit(1)


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m rave_pipeline", description=__doc__)
    ap.add_argument("command", choices=["preprocess", "train", "export", "export-all", "submit"],
                    help="submit: sbatch a training job and an export after it (--export-only: just the export)")
    ap.add_argument("recipe", help="recipe name (configs/<name>.toml) or a .toml path; all: every recipe (export-all, submit --export-only)")
    ap.add_argument("--root", type=Path, default=None, help="folder holding datasets/, runs/, exports/ (default: the repo)")
    ap.add_argument("--raw", default=None, help="raw recordings folder (relative to --root, or absolute)")
    ap.add_argument("--exports", default=None, help="exports folder (relative to --root, or absolute; default exports)")
    ap.add_argument("--tag", default=None, help="train/export a variant with its own run (e.g. batch8 in a sweep)")
    ap.add_argument("--n-signal", type=count(1, "N_SIGNAL"), default=None)
    ap.add_argument("--max-steps", type=count(1, "MAX_STEPS"), default=None)
    ap.add_argument("--val-every", type=count(1, "VAL_EVERY"), default=None)
    ap.add_argument("--save-every", type=count(1, "SAVE_EVERY"), default=None)
    ap.add_argument("--augment", default=None, help="comma-separated RAVE augmentations (mute,compress,gain), or none")
    ap.add_argument("--batch", type=count(1, "BATCH"), default=None, help="default: the recipe's table for this GPU")
    ap.add_argument("--device", default=os.environ.get("DEVICE"), help="auto (default), cuda or cpu")
    ap.add_argument("--gpu", type=count(0, "GPU"), default=None, help="GPU index (default 0)")
    ap.add_argument("--workers", type=count(0, "WORKERS"), default=None)
    ap.add_argument("--override", action="append", default=[], help="extra gin binding, repeatable")
    ap.add_argument("--fresh", action="store_true", help="archive the existing run and start a new one")
    ap.add_argument("--force", action="store_true", help="preprocess even if the database is up to date")
    ap.add_argument("--sbatch", default="sbatch", help="submit: the sbatch command")
    ap.add_argument("--sbatch-args", default="", help="submit: extra sbatch options, e.g. '--partition=gpu --time=48:00:00'")
    ap.add_argument("--after", default=None, help="submit: start after these jobs succeed (JOB[:JOB...])")
    ap.add_argument("--export-only", action="store_true", help="submit: one export job, no training")
    args = ap.parse_args(argv)

    if args.command == "submit":
        from rave_pipeline.submit import submit

        if args.recipe != "all" or not args.export_only:
            recipe_from(args)   # a bad recipe or setting is said now, not in the job's log
        submit(args.recipe, forwarded(args, TRAIN_OPTIONS), forwarded(args, DATA_OPTIONS), args.sbatch,
               args.sbatch_args, args.after, args.export_only)
        return
    if args.command == "export-all":
        return export_all(args)
    recipe = recipe_from(args)

    if args.command == "preprocess":
        from rave_pipeline.dataset import preprocess
        preprocess(recipe, force=args.force)
    elif args.command == "train":
        from rave_pipeline.train import train
        train(recipe, batch=args.batch, device=args.device, gpu=args.gpu, fresh=args.fresh,
              overrides=args.override, workers=args.workers)
    else:
        from rave_pipeline.export import export
        export(recipe)


if __name__ == "__main__":
    sys.exit(main())
