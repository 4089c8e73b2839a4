"""python -m rave_pipeline {preprocess,train,export,export-chaos,export-all,submit} RECIPE [options]: the Makefile's
RAVE targets (`--help` after a command lists the options it takes)."""

import argparse
import sys
from pathlib import Path

from rave_pipeline.commands import options
from safeio import UserError, cli_main, program


def recipe_from(args, **changes):
    """The recipe the command line names (or, with changes such as recipe="noise", another one with the
    same settings)."""
    from rave_pipeline.commands import recipes

    args = argparse.Namespace(**{**vars(args), **changes})
    return recipes.load(
        args.recipe,
        root=args.root,
        n_signal=args.n_signal,
        max_steps=args.max_steps,
        val_every=args.val_every,
        save_every=args.save_every,
        augment=None if args.augment is None else [a for a in args.augment.split(",") if a and a != "none"],
        raw=args.raw,
        exports=args.exports,
        tag=args.tag,
    )


def export_chaos(args) -> None:
    """The hand-written instruments into the same exports folder as the trained ones (ROOT, EXPORTS); the
    hybrid is fine-tuned toward the noise recipe's recordings when there are any."""
    from chaos_models.export import export_beyond, export_essay
    from rave_pipeline.commands import recipes

    out_dir = recipes.exports_dir(args.root, args.exports)
    targets = []
    if "noise" in recipes.names():
        noise_raw = recipe_from(args, recipe="noise", raw=None).raw_dir
        here = Path.cwd()  # named from the current folder when inside it, as make always did (the manifest keeps them)
        targets = (
            [p.relative_to(here) if p.is_relative_to(here) else p for p in sorted(noise_raw.glob("*.wav"))]
            if noise_raw.is_dir()
            else []
        )
    export_essay(out_dir)
    export_beyond(out_dir, targets=targets)


def export_all(args) -> None:
    """Every recipe's newest checkpoint and the hand-written instruments, into the same exports folder;
    a recipe that cannot be exported is one line at the end (exit 2), the others are exported."""
    from rave_pipeline.commands import recipes
    from rave_pipeline.commands.export import export

    missing = []
    for name in recipes.names():
        try:
            export(recipe_from(args, recipe=name))
        except UserError as e:
            missing.append(name)
            print(f"not exported: {name}: {e}", file=sys.stderr)
    export_chaos(args)
    out = recipes.exports_dir(args.root, args.exports)
    if not args.skip_neutone:
        from audition.neutone_save import save_all

        try:
            save_all([out], out / "neutone")
        except UserError as e:
            missing.append(f"Neutone models ({e})")
    if missing:
        raise UserError(f"{', '.join(missing)} not exported (see above); everything else is in {out}")


def tidy(args) -> None:
    """Before any command: EXPORTS must be a folder, and what a killed export, training or timeline left
    under ROOT goes (rave_pipeline.commands.runs.tidy)."""
    from rave_pipeline.commands import recipes, runs

    out = recipes.exports_dir(args.root, args.exports)
    if out.exists() and not out.is_dir():
        raise UserError(f"EXPORTS={out} is a file, not a folder: name a folder (it is created if missing)")
    runs.tidy(Path(args.root or recipes.REPO).resolve(), out)


SCOPES = (options.DATA, options.TRAIN, options.EXPORT, options.TIMELINE, options.EXPORT_ALL)
# command -> (the option scopes it takes, what it does)
COMMANDS = {
    "preprocess": ((options.DATA,), "build the recipe's database from its raw recordings (rave preprocess)"),
    "train": ((options.DATA, options.TRAIN), "train the recipe's run with rave train, resuming it where it stopped"),
    "export": ((options.DATA, options.EXPORT), "export a checkpoint of the recipe's run (rave export --streaming)"),
    "export-chaos": ((options.DATA,), "export the hand-written instruments into the same exports folder"),
    "export-all": (
        (options.DATA, options.EXPORT_ALL),
        "every recipe's newest checkpoint and the hand-written instruments, and each as a Neutone FX model",
    ),
    "submit": (SCOPES, "sbatch a training job and an export after it (--export-only: just the export)"),
}


def parser(command: str) -> argparse.ArgumentParser:
    """One command's options only; named as the user called it (rave-to-chaos SUBCOMMAND or python -m ...)."""
    scopes, what = COMMANDS[command]
    ap = argparse.ArgumentParser(prog=program(f"python -m rave_pipeline {command}"), description=what)
    ap.add_argument(
        "recipe",
        help="recipe name (configs/<name>.toml) or a .toml path"
        + ("; all: every recipe" if command in ("export-chaos", "export-all", "submit") else ""),
    )
    options.add_to(ap, scopes=scopes, hidden=[s for s in SCOPES if s not in scopes])  # train.sbatch passes all
    if command == "preprocess":
        ap.add_argument("--force", action="store_true", help="preprocess even if the database is up to date")
    if command == "submit":
        ap.add_argument("--sbatch", default="sbatch", help="the sbatch command")
        ap.add_argument(
            "--sbatch-args", default="", help="extra sbatch options, e.g. '--partition=gpu --time=48:00:00'"
        )
        ap.add_argument("--after", default=None, help="start after these jobs succeed (JOB[:JOB...])")
        ap.add_argument("--export-only", action="store_true", help="one export job, no training")
        ap.add_argument("--timeline", action="store_true", help="one timeline job (make cluster-timeline-RECIPE)")
    ap.add_argument(
        "--from-make",
        action="store_true",
        help="also read the settings from make variables in the environment (BATCH=8 ...; the flags win); "
        "the Makefile passes this",
    )
    return ap


def parse(argv=None) -> argparse.Namespace:
    """COMMAND RECIPE [options]: the command's own parser (it lists its own settings and takes the others, as a
    job script hands one set to each step, so every setting is there, None when not given)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        top = argparse.ArgumentParser(prog="python -m rave_pipeline", description=__doc__)
        top.add_argument(
            "command", choices=list(COMMANDS), help="; ".join(f"{c}: {w}" for c, (_, w) in COMMANDS.items())
        )
        top.parse_args(argv[:1])  # --help, or one sentence naming the commands (exit 2)
    args = parser(argv[0]).parse_args(argv[1:])
    if args.from_make:
        options.from_environment(args)
    return argparse.Namespace(**{"force": False, **vars(args), "command": argv[0]})


def submit_jobs(args) -> None:
    """submit: the recipe and settings checked here, then sbatch."""
    from rave_pipeline.commands.parallel import sbatch_lines, sbatch_options
    from rave_pipeline.commands.submit import submit

    layout = []
    if args.recipe != "all" or not (args.export_only or args.timeline):
        recipe = recipe_from(args)  # a bad recipe or setting is said now, not in the job's log
        if not (args.export_only or args.timeline):  # data-parallel: the job's nodes, tasks, GPUs and CPUs
            layout = sbatch_options(args.nodes, args.gpus, args.procs, recipe.workers)
            if layout:
                print(f"data-parallel job:\n{sbatch_lines(layout)}")
    submit(
        args.recipe,
        options.argv(args),
        options.argv(args, [options.DATA, options.EXPORT_ALL]),
        args.sbatch,
        args.sbatch_args,
        args.after,
        args.export_only,
        options.argv(args, [options.DATA, options.TIMELINE]) if args.timeline else None,
        layout,
    )


@cli_main
def main(argv=None):
    args = parse(argv)
    if args.command == "submit":
        return submit_jobs(args)
    tidy(args)
    if args.command == "export-all":
        return export_all(args)
    if args.command == "export-chaos":
        return export_chaos(args)
    recipe = recipe_from(args)

    if args.command == "preprocess":
        from rave_pipeline.data.dataset import preprocess

        preprocess(recipe, force=args.force)
    elif args.command == "train":
        from rave_pipeline.commands.train import train

        train(
            recipe,
            batch=args.batch,
            device=args.device,
            gpu=args.gpu,
            fresh=args.fresh,
            overrides=args.override,
            workers=args.workers,
            gpus=args.gpus,
            nodes=args.nodes,
            procs=args.procs,
        )
    else:
        from rave_pipeline.commands.export import export

        export(recipe, args.ckpt or "last")


if __name__ == "__main__":
    sys.exit(main())
