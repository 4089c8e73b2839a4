"""Raw recordings -> `rave preprocess` database (db/), through checked, converted WAVs (recordings.py).

The database is built in a temporary folder and renamed into place, so a killed run never leaves a half
database, and it is rebuilt only when the raw files or the recipe's audio settings change. One
preprocess per dataset at a time.
"""

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

from rave_pipeline.commands import runs
from rave_pipeline.commands.recipes import Recipe
from rave_pipeline.data.accounting import account, chunks_of, size_advice
from rave_pipeline.data.disk import database_bytes, disk_full, free_bytes, megabytes, needed_bytes
from rave_pipeline.data.recordings import clean, fingerprint, raw_files
from rave_pipeline.inside_rave import rave_cli
from safeio import UserError, atomic_write_text, require_tool

FINGERPRINT = "fingerprint.json"


def db_entries(db: Path) -> int:
    import lmdb

    env = lmdb.open(str(db), readonly=True, lock=False)
    try:
        return env.stat()["entries"]
    finally:
        env.close()


def preprocess(recipe: Recipe, force: bool = False) -> Path:
    """Build recipe.db_dir unless it is up to date with the raw files; returns its path. One
    preprocess per dataset at a time; leftovers of a killed one are removed first."""
    with runs.exclusive(recipe.db_dir.parent / ".lock", recipe.db_dir.parent, "preprocessed"):
        for stale in recipe.db_dir.parent.glob("db.*-*"):  # db.tmp-<pid> / db.old-<pid> of a dead process
            shutil.rmtree(stale, ignore_errors=True)
        try:
            return build(recipe, force)
        except (OSError, RuntimeError) as e:  # soundfile reports a full disk as a bare "System error"
            folder = recipe.db_dir.parent
            if not disk_full(e, folder):
                raise
            shutil.rmtree(recipe.clean_dir, ignore_errors=True)
            raise UserError(
                f"the disk holding {folder} is full: preprocessing these recordings needs about "
                f"{megabytes(needed_bytes(recipe))} there and it has {megabytes(free_bytes(folder))} "
                f"with the partial files removed; free space (or use ROOT= on a bigger disk) and run "
                f"make preprocess-{recipe.name} again"
            )
        finally:
            shutil.rmtree(recipe.clean_dir, ignore_errors=True)  # a working folder: never read afterwards


def check_room(recipe: Recipe, report: dict, seconds: float) -> None:
    """Before rave preprocess: the kept audio makes at least one chunk, and its database fits the disk."""
    kept = report["kept"]
    n_chunks = sum(chunks_of(recipe, k["seconds"]) for k in kept)
    if n_chunks == 0:
        raise UserError(
            f"{recipe.raw_dir}: {report['found_s']:.1f} s of audio, less than one training chunk "
            f"({recipe.chunk_seconds:.1f} s at n_signal {recipe.n_signal}): "
            "add recordings (short files are joined when join_short is on)"
        )
    need, free = database_bytes(recipe, seconds), free_bytes(recipe.db_dir.parent)
    if free < need:
        raise UserError(
            f"the disk holding {recipe.db_dir.parent} has {megabytes(free)} free and the database of "
            f"{seconds / 60:.0f} min of audio needs {megabytes(need)}: free space (or use ROOT= on a bigger "
            f"disk) and run make preprocess-{recipe.name} again"
        )


def run_preprocess(recipe: Recipe, cmd: list, tmp: Path, seconds: float) -> None:
    """rave preprocess into `tmp`; a hung one, a full disk (OSError ENOSPC, for the caller's sentence) or a
    failure ends it."""
    limit = 600 + seconds  # rave preprocess runs far faster than real time; a hung ffmpeg does not
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise UserError(
            f"rave preprocess made no end within {limit / 60:.0f} min on {recipe.clean_dir} "
            f"(a hung ffmpeg?); run make preprocess-{recipe.name} again"
        )
    if proc.returncode != 0 or not (tmp / "data.mdb").exists():
        if "No space left on device" in proc.stdout + proc.stderr:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
        raise UserError(f"rave preprocess failed on {recipe.clean_dir}:\n{rave_cli.last_lines(proc)}")


def write_fingerprint(recipe: Recipe, db: Path, fp: str, kept: list, seconds: float, entries: int) -> None:
    """What the database was built from, so that a later preprocess knows it is up to date."""
    record = {
        "fingerprint": fp,
        "files": len(kept),
        "seconds": seconds,
        "chunks": entries,
        "n_signal": recipe.n_signal,
        "sampling_rate": recipe.sampling_rate,
        "channels": recipe.channels,
    }
    atomic_write_text(db / FINGERPRINT, json.dumps(record, indent=1))


def build(recipe: Recipe, force: bool) -> Path:
    require_tool("ffmpeg")
    files = raw_files(recipe.raw_dir)
    fp = fingerprint(recipe, files)
    stamp = recipe.db_dir / FINGERPRINT
    if not force and stamp.exists() and json.loads(stamp.read_text()).get("fingerprint") == fp:
        print(f"{recipe.db_dir} is up to date with {recipe.raw_dir} ({len(files)} files)")
        return recipe.db_dir

    print(f"checking {len(files)} file(s) in {recipe.raw_dir}")
    report = clean(recipe, files)
    kept = report["kept"]
    seconds = sum(k["seconds"] for k in kept)
    check_room(recipe, report, seconds)

    tmp = recipe.db_dir.with_name(f"db.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = rave_cli.command(
        "preprocess",
        "--input_path",
        recipe.clean_dir,
        "--output_path",
        tmp,
        "--num_signal",
        recipe.n_signal,
        "--sampling_rate",
        recipe.sampling_rate,
        "--channels",
        recipe.channels,
        "--max_db_size",
        64,
    )
    print(f"rave preprocess: {seconds / 60:.1f} min of audio -> {recipe.db_dir}")
    try:
        run_preprocess(recipe, cmd, tmp, seconds)
        entries = db_entries(tmp)
        accounting = account(recipe, report, entries)
        atomic_write_text(tmp / "sources.json", json.dumps(kept, indent=1, ensure_ascii=False))
        atomic_write_text(tmp / "accounting.json", json.dumps(accounting, indent=1, ensure_ascii=False))
        write_fingerprint(recipe, tmp, fp, kept, seconds, entries)
        old = recipe.db_dir.with_name(f"db.old-{os.getpid()}")
        if recipe.db_dir.exists():
            os.replace(recipe.db_dir, old)
        os.replace(tmp, recipe.db_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"database: {entries} chunks of {recipe.chunk} samples in {recipe.db_dir}")
    print(accounting["summary"] + f" (details: {recipe.db_dir / 'accounting.json'})")
    return recipe.db_dir


def check_size(recipe: Recipe, batch: int) -> int:
    """Before training: the database exists, matches the recipe, and is big enough for RAVE's validation."""
    stamp = recipe.db_dir / FINGERPRINT
    if not stamp.exists():
        raise UserError(f"no dataset at {recipe.db_dir}: run make preprocess-{recipe.name} first")
    info = json.loads(stamp.read_text())
    if info["n_signal"] != recipe.n_signal:
        raise UserError(
            f"{recipe.db_dir} was cut for n_signal {info['n_signal']}, not {recipe.n_signal}: "
            f"run make preprocess-{recipe.name} N_SIGNAL={recipe.n_signal}"
        )
    need = recipe.min_chunks(batch)
    if info["chunks"] < need:
        raise UserError(size_advice(recipe, batch, info["chunks"], info["seconds"]))
    return info["chunks"]
