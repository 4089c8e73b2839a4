"""Submit a recipe's training (and the export that follows it) to Slurm.

sbatch's argument list is built here, and the job's own options travel as the batch script's
arguments ("$@" in scripts/slurm/*.sbatch), never as a string evaluated again: a --root with spaces or
an OVERRIDE with quotes reaches `python -m rave_pipeline train` exactly as typed.
"""

import shlex
import subprocess

from rave_pipeline.commands.recipes import REPO
from safeio import UserError

SCRIPTS = REPO / "scripts" / "slurm"
LOGS = REPO / "logs" / "slurm"  # the scripts' #SBATCH --output, relative to the submit folder (REPO)


def sbatch_command(
    sbatch: str, sbatch_args: str, script: str, args: list[str], after: str | None = None, first=()
) -> list[str]:
    """first: options before SBATCH_ARGS (a data-parallel layout), so the user's own win."""
    cmd = [*shlex.split(sbatch), "--parsable", *first, *shlex.split(sbatch_args or "")]
    if after:
        cmd.append(f"--dependency=afterok:{after}")
    return [*cmd, str(SCRIPTS / script), *args]


def run_sbatch(cmd: list[str]) -> str:
    """-> the job id sbatch --parsable printed."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    except FileNotFoundError:
        raise UserError(f"{cmd[0]} not found: submit from a Slurm login node (or set SBATCH=/path/to/sbatch)")
    except subprocess.TimeoutExpired:
        raise UserError(f"sbatch did not answer within 2 min: {shlex.join(cmd)}")
    job = proc.stdout.strip().split(";")[0]
    if proc.returncode or not job.isdigit():
        why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise UserError(f"sbatch refused the job ({why}); the command was: {shlex.join(cmd)}")
    return job


def submit(
    recipe: str,
    train_args: list[str],
    data_args: list[str],
    sbatch: str = "sbatch",
    sbatch_args: str = "",
    after: str | None = None,
    export_only: bool = False,
    timeline_args: list[str] | None = None,
    layout=(),
) -> list[str]:
    """Training, then an export that runs when it succeeds (--dependency=afterok); or, with
    export_only, one export job (recipe "all": every recipe and the hand-written instruments); or, with
    timeline_args, one timeline job (after the jobs named, or now, beside a training still running)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    if timeline_args is not None:
        job = run_sbatch(sbatch_command(sbatch, sbatch_args, "timeline.sbatch", [recipe, *timeline_args], after))
        print(f"timeline job {job} ({recipe}{', after ' + after if after else ''}); logs in {LOGS}/")
        return [job]
    if export_only:
        job = run_sbatch(sbatch_command(sbatch, sbatch_args, "export.sbatch", [recipe, *data_args], after))
        print(f"export job {job} ({recipe}); logs in {LOGS}/")
        return [job]
    train = run_sbatch(sbatch_command(sbatch, sbatch_args, "train.sbatch", [recipe, *train_args], after, layout))
    export = run_sbatch(sbatch_command(sbatch, sbatch_args, "export.sbatch", [recipe, *data_args], train))
    print(f"training job {train} ({recipe}), export job {export} (runs when training succeeds); logs in {LOGS}/")
    return [train, export]
