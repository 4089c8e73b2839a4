"""Run acids-rave's own CLI (`rave preprocess|train|export ...`) with these additions first:

- torchaudio 2.9 has no sox_effects: install the sox-CLI stand-in (for the compress augmentation);
- `rave export` compiles NaN/inf guards into the exported class (rave_pipeline/inside_rave/nan_guard.py;
  RAVE_PIPELINE_NAN_GUARD=0 exports it unguarded);
- `rave train` gets a CheckpointOnExit callback (rave_pipeline/inside_rave/graceful.py): a signal or the end of
  training saves a checkpoint; and a StepMeter (rave_pipeline/inside_rave/progress.py): s/step, data wait,
  peak memory and ETA per RAVE phase, one line per validation and progress.json in the run folder;
  and its DataLoader keeps its workers across epochs, with the same batches (rave_pipeline/inside_rave/loader.py;
  RAVE_PIPELINE_LOADER=plain keeps RAVE's own);
- the repo root must not be on sys.path: our configs/ folder would shadow RAVE's gin includes
  ("configs/v1.gin") and our scripts/ folder its `scripts` package.

    python -m rave_pipeline.inside_rave.rave_cli train --config v2_small ...
"""

import sys
from pathlib import Path

from safeio.environment import env

REPO = str(Path(__file__).resolve().parents[2])


def command(*args: str) -> list[str]:
    """The command line that runs `rave <args>` through this wrapper, with this interpreter."""
    return [sys.executable, "-m", "rave_pipeline.inside_rave.rave_cli", *map(str, args)]


def last_lines(proc, n: int = 5) -> str:
    """The end of a finished command's output, for an error message."""
    return "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-n:])


def main() -> None:
    sys.path[:] = [p for p in sys.path if p not in ("", ".", REPO)]
    from rave_pipeline.inside_rave import scipy_compat, sox_compat

    sox_compat.install()
    scipy_compat.install()  # before rave is imported: rave/pqmf.py binds the names at import
    if sys.argv[1:2] == ["train"]:
        from rave_pipeline.inside_rave import ddp, graceful, loader

        if env("LOCAL_RANK") not in ("", "0") and not env("SLURM_PROCID"):  # a rank Lightning started
            ddp.die_with_parent()
        graceful.install()
        if ddp.data_parallel():
            ddp.seed_start()
        if env("RAVE_PIPELINE_LOADER") != "plain":
            loader.install()
    if sys.argv[1:2] == ["export"] and env("RAVE_PIPELINE_NAN_GUARD") != "0":
        from rave_pipeline.inside_rave import nan_guard

        nan_guard.install()
    from scripts.main_cli import main as rave_main  # acids-rave's CLI entry point

    sys.argv = ["rave", *sys.argv[1:]]
    try:
        rave_main()
    except Exception as e:
        if sys.argv[1:2] == ["train"]:
            from rave_pipeline.inside_rave import ddp

            if ddp.data_parallel():  # which rank went away, for the wrapper's sentence
                print(ddp.lost(e), flush=True)
        raise


if __name__ == "__main__":
    main()
