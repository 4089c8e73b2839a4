"""Raw recordings -> checked, converted WAVs (clean/) -> `rave preprocess` database (db/).

rave preprocess crashes on a non-audio file, trips on some paths (acids-rave #209), and passes NaN
samples through. So every raw file is first decoded by ffmpeg at the recipe's rate and channel count,
checked, repaired where possible, and written under a plain ASCII name; unreadable files are skipped
and listed. The database is built in a temporary folder and renamed into place, so a killed run never
leaves a half database, and it is rebuilt only when the raw files or the recipe's audio settings change.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from rave_pipeline.recipes import Recipe
from safeio import UserError, atomic_write_text, decode_audio, require_tool, warn, write_wav

FINGERPRINT = "fingerprint.json"


def raw_files(raw_dir: Path) -> list[Path]:
    if not raw_dir.is_dir():
        raise UserError(f"{raw_dir} does not exist: put recordings there (or run make demo-data)")
    files = sorted(p for p in raw_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise UserError(f"{raw_dir} is empty: put recordings there (wav, flac, ogg, mp3, aif...) or run make demo-data")
    return files


def fingerprint(recipe: Recipe, files: list[Path]) -> str:
    """Changes when a raw file is added, removed or modified, or the recipe's audio settings change."""
    h = hashlib.sha256(json.dumps([recipe.sampling_rate, recipe.channels, recipe.n_signal]).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(recipe.raw_dir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def clean(recipe: Recipe, files: list[Path]) -> list[dict]:
    """Decode, check and convert every raw file into clean_dir; returns one record per kept file."""
    out = recipe.clean_dir
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    kept, skipped = [], []
    for i, f in enumerate(files):
        try:
            audio = decode_audio(f, recipe.sampling_rate, recipe.channels)
        except UserError:
            skipped.append(f"{f.name} (not audio or corrupt)")
            continue
        if audio.shape[1] == 0:
            skipped.append(f"{f.name} (no samples)")
            continue
        bad = ~np.isfinite(audio)
        if bad.any():
            warn(f"{f}: {int(bad.sum())} NaN/inf samples replaced by silence")
            audio = np.where(bad, 0.0, audio).astype(np.float32)
        peak = float(np.abs(audio).max())
        if peak > 1.0:  # float files can exceed full scale; rave preprocess would wrap them in int16
            warn(f"{f}: peak {peak:.2f} above full scale, normalised to 0.99")
            audio *= 0.99 / peak
        name = f"{i:05d}.wav"
        write_wav(out / name, audio, recipe.sampling_rate)
        kept.append({"source": str(f), "clean": name, "seconds": audio.shape[1] / recipe.sampling_rate})
    if skipped:
        warn(f"skipped {len(skipped)} file(s) in {recipe.raw_dir}: {', '.join(skipped)}")
    if not kept:
        raise UserError(f"no usable audio in {recipe.raw_dir}: every file was unreadable or empty; add recordings ffmpeg can read")
    atomic_write_text(out / "sources.json", json.dumps(kept, indent=1, ensure_ascii=False))
    return kept


def chunks_of(recipe: Recipe, seconds: float) -> int:
    """rave preprocess cuts each file into chunks of 2 x n_signal samples and drops the remainder."""
    return int(seconds * recipe.sampling_rate) // (2 * recipe.n_signal)


def db_entries(db: Path) -> int:
    import lmdb

    env = lmdb.open(str(db), readonly=True, lock=False)
    try:
        return env.stat()["entries"]
    finally:
        env.close()


def preprocess(recipe: Recipe, force: bool = False) -> Path:
    """Build recipe.db_dir unless it is up to date with the raw files; returns its path."""
    require_tool("ffmpeg")
    files = raw_files(recipe.raw_dir)
    fp = fingerprint(recipe, files)
    stamp = recipe.db_dir / FINGERPRINT
    if not force and stamp.exists() and json.loads(stamp.read_text()).get("fingerprint") == fp:
        print(f"{recipe.db_dir} is up to date with {recipe.raw_dir} ({len(files)} files)")
        return recipe.db_dir

    print(f"checking {len(files)} file(s) in {recipe.raw_dir}")
    kept = clean(recipe, files)
    seconds = sum(k["seconds"] for k in kept)
    n_chunks = sum(chunks_of(recipe, k["seconds"]) for k in kept)
    if n_chunks == 0:
        raise UserError(f"{recipe.raw_dir}: every file is shorter than one training chunk "
                        f"({2 * recipe.n_signal / recipe.sampling_rate:.1f} s at n_signal {recipe.n_signal}); "
                        "join short files into longer ones or lower N_SIGNAL")

    tmp = recipe.db_dir.with_name(f"db.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, "-m", "rave_pipeline.rave_cli", "preprocess",
           "--input_path", str(recipe.clean_dir), "--output_path", str(tmp),
           "--num_signal", str(recipe.n_signal), "--sampling_rate", str(recipe.sampling_rate),
           "--channels", str(recipe.channels), "--max_db_size", "64"]
    print(f"rave preprocess: {seconds / 60:.1f} min of audio -> {recipe.db_dir}")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not (tmp / "data.mdb").exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
            raise UserError(f"rave preprocess failed on {recipe.clean_dir}:\n{tail}")
        entries = db_entries(tmp)
        atomic_write_text(tmp / FINGERPRINT, json.dumps({
            "fingerprint": fp, "files": len(kept), "seconds": seconds, "chunks": entries,
            "n_signal": recipe.n_signal, "sampling_rate": recipe.sampling_rate, "channels": recipe.channels}, indent=1))
        old = recipe.db_dir.with_name(f"db.old-{os.getpid()}")
        if recipe.db_dir.exists():
            os.replace(recipe.db_dir, old)
        os.replace(tmp, recipe.db_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"database: {entries} chunks of {2 * recipe.n_signal} samples ({seconds / 60:.1f} min) in {recipe.db_dir}")
    return recipe.db_dir


def check_size(recipe: Recipe, batch: int) -> int:
    """Before training: the database exists, matches the recipe, and is big enough for RAVE's validation."""
    stamp = recipe.db_dir / FINGERPRINT
    if not stamp.exists():
        raise UserError(f"no dataset at {recipe.db_dir}: run make preprocess-{recipe.name} first")
    info = json.loads(stamp.read_text())
    if info["n_signal"] != recipe.n_signal:
        raise UserError(f"{recipe.db_dir} was cut for n_signal {info['n_signal']}, not {recipe.n_signal}: "
                        f"run make preprocess-{recipe.name} N_SIGNAL={recipe.n_signal}")
    need = recipe.min_chunks(batch)
    if info["chunks"] < need:
        secs = need * 2 * recipe.n_signal / recipe.sampling_rate
        raise UserError(
            f"dataset {recipe.db_dir} is too small: {info['chunks']} chunks ({info['seconds']:.0f} s), but RAVE {recipe.config} "
            f"at n_signal {recipe.n_signal} and batch {batch} needs at least {need} chunks, i.e. {secs:.0f} s of audio "
            f"in files longer than {2 * recipe.n_signal / recipe.sampling_rate:.1f} s: add recordings to {recipe.raw_dir}")
    return info["chunks"]
