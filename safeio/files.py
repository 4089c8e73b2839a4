"""Atomic writes: a killed process never leaves a half-written file where a host would load it."""

import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from safeio.environment import env


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike):
    """Yield a temporary path beside `final`; rename it onto `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Same directory => same filesystem => os.replace is atomic. Hidden name: hosts scanning
    # the folder for *.ts never see it.
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}"
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(final: str | os.PathLike, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(export_path: str | os.PathLike, fields: dict) -> Path:
    """Write `<export>.json` beside an export: the given fields plus sha256, torch version and time."""
    import torch

    export_path = Path(export_path)
    manifest = {
        "file": export_path.name,
        **fields,
        "sha256": sha256_of(export_path),
        "torch_version": torch.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    out = export_path.with_suffix(".json")
    atomic_write_text(out, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return out


def cache_dir(part: str) -> Path:
    """Where work worth keeping between runs lives, outside any checkout: ~/.cache/rave-to-chaos/<part>
    (or $RAVE_TO_CHAOS_CACHE/<part>)."""
    return Path(env("RAVE_TO_CHAOS_CACHE") or Path.home() / ".cache" / "rave-to-chaos") / part


# What a killed writer leaves: atomic_path's `.<name>.partial-<pid>`, an export's `.staging-<recipe>-<pid>`
# (in the exports folder) and `.export-<run>-<pid>` (the checkpoint it held, beside the runs).
LEFTOVER = re.compile(r"^\.(?:.+\.partial|staging-.+|export-.+)-(\d+)$")


def remove_leftovers(folder: Path, deep: bool = True) -> list[Path]:
    """Remove under `folder` (or only in it) what a writer whose process is gone left; -> what went.
    A process still running keeps its own (a reused pid keeps a leftover a while: the safe side)."""
    if not folder.is_dir():
        return []
    found = sorted(p for p in (folder.rglob(".*") if deep else folder.glob(".*")) if LEFTOVER.match(p.name))
    gone: list[Path] = []
    for p in found:
        pid = LEFTOVER.match(p.name).group(1)
        if Path(f"/proc/{pid}").exists() or any(g in p.parents for g in gone):
            continue
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
        gone.append(p)
    return gone
