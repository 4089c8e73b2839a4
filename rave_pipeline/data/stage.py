"""Copy a recipe's database to node-local scratch before training, as cluster jobs should.

On clusters the database usually sits on a network filesystem, where RAVE's random reads from 8
loader processes are slow. When STAGE_DIR (explicit; `none` turns staging off) or SLURM_TMPDIR (set
by many clusters per job) names a folder, the database is copied there once and trained from. The
copy is checked against the database's fingerprint and file sizes, so a requeued job on the same node
reuses it and a changed database is copied afresh. It is removed when training ends, except when a
signal stopped it (preemption, time limit): then the next start on this node reuses it.

A data-parallel job on several nodes stages once per node, not once per process: the trainer runs
`python -m rave_pipeline.data.stage DB RUN` as one srun task on each node (rave_pipeline/commands/parallel.py).
"""

import json
import os
import shutil
from pathlib import Path

from rave_pipeline.commands.recipes import Recipe
from rave_pipeline.data.dataset import FINGERPRINT
from safeio import warn
from safeio.environment import env


def scratch_root() -> Path | None:
    where = env("STAGE_DIR") or env("SLURM_TMPDIR")
    if not where or where.lower() == "none":
        return None
    return Path(where)


def signature(db: Path) -> dict:
    """What a complete copy must match: the fingerprint record and every file's size."""
    return {
        "fingerprint": json.loads((db / FINGERPRINT).read_text()),
        "sizes": {
            p.name: p.stat().st_size
            for p in sorted(db.iterdir())
            if p.is_file() and p.name not in ("lock.mdb", FINGERPRINT)
        },
    }


def staged_path(db_dir: Path, run_name: str, root: Path) -> Path:
    fp = json.loads((db_dir / FINGERPRINT).read_text())["fingerprint"]
    return root / "rave-pipeline" / f"{run_name}-{fp[:12]}" / "db"


def stage(recipe: Recipe) -> Path:
    """The database path to train from: a verified local copy when a scratch folder is set, else db_dir."""
    return stage_db(recipe.db_dir, recipe.run_name)


def stage_db(db_dir: Path, run_name: str) -> Path:
    root = scratch_root()
    if root is None:
        return db_dir
    dest = staged_path(db_dir, run_name, root)
    want = signature(db_dir)
    if dest.is_dir() and (dest / FINGERPRINT).exists() and signature(dest) == want:
        print(f"database: reusing the copy staged in {dest}")
        return dest
    need = sum(want["sizes"].values()) + (db_dir / FINGERPRINT).stat().st_size
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free < need * 1.05:
        warn(
            f"not staging the database: {root} has {free / 1e9:.1f} GB free, it needs {need / 1e9:.1f} GB; "
            f"training reads {db_dir} directly"
        )
        return db_dir
    tmp = dest.with_name(f"db.tmp-{os.getpid()}")
    shutil.rmtree(dest.parent, ignore_errors=True)  # a stale or partial copy of this run
    tmp.mkdir(parents=True)
    try:
        for name in want["sizes"]:
            shutil.copyfile(db_dir / name, tmp / name)
        shutil.copyfile(db_dir / FINGERPRINT, tmp / FINGERPRINT)  # last: marks the copy complete
        os.replace(tmp, dest)
    except OSError as e:
        shutil.rmtree(dest.parent, ignore_errors=True)
        warn(f"could not stage the database in {root} ({e.strerror}); training reads {db_dir} directly")
        return db_dir
    print(f"database: staged {need / 1e9:.2f} GB to {dest}")
    return dest


def unstage(recipe: Recipe, db: Path) -> None:
    """Remove a staged copy (training is over for good on this node)."""
    if db != recipe.db_dir and db.parent.parent.name == "rave-pipeline":
        shutil.rmtree(db.parent, ignore_errors=True)
        print(f"database: removed the staged copy {db.parent}")


if __name__ == "__main__":  # one node's copy: python -m rave_pipeline.data.stage DB RUN_NAME -> prints the path
    import sys

    print(f"database path: {stage_db(Path(sys.argv[1]), sys.argv[2])}", flush=True)
