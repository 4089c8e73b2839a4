"""Raw recordings -> checked, converted WAVs in clean/ (a working folder), what rave preprocess then reads.

rave preprocess crashes on a non-audio file, trips on some paths (acids-rave #209), and passes NaN
samples through. So every raw file is first decoded at the recipe's rate and channel count (in-process
where libsndfile reads it, else by ffmpeg: small files many to one process), a chunk at a time,
checked, repaired where possible, and written under a plain ASCII name; unreadable files are skipped
and listed; what is shorter than a chunk is joined instead of dropped (join_short).
"""

import concurrent.futures
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from rave_pipeline.commands.recipes import Recipe
from safeio import UserError, warn
from safeio.audio import decode_group, raw_blocks, sndfile_reads, stream_audio
from spec.host import SR


def raw_files(raw_dir: Path) -> list[Path]:
    """Every file under raw_dir, in a stable order; symlinked folders are followed, loops skipped."""
    if not raw_dir.is_dir():
        if raw_dir.is_symlink() and not raw_dir.exists():
            raise UserError(
                f"{raw_dir} is a symlink that leads nowhere (to a missing folder or back to itself): "
                "point it at the folder of recordings"
            )
        if raw_dir.exists():
            raise UserError(f"{raw_dir} is a file, not a folder: put the recordings in a folder there")
        raise UserError(f"{raw_dir} does not exist: put recordings there (or run make demo-data)")
    files, seen = [], set()
    for folder, dirs, names in os.walk(raw_dir, followlinks=True):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:  # a link back up the tree
            warn(f"{shown(Path(folder))} leads back into a folder already read (a symlink loop): skipped")
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        files += [Path(folder) / n for n in sorted(names) if not n.startswith(".") and (Path(folder) / n).is_file()]
    if not files:
        raise UserError(f"{raw_dir} is empty: put recordings there (wav, flac, ogg, mp3, aif...) or run make demo-data")
    return files


def shown(path: Path) -> str:
    """A path as text that prints and stores as UTF-8, whatever bytes its name has (latin-1...)."""
    return os.fsencode(path).decode("utf-8", "replace")


def fingerprint(recipe: Recipe, files: list[Path]) -> str:
    """Changes when a raw file is added, removed or modified, or the recipe's audio settings change."""
    h = hashlib.sha256(json.dumps([recipe.sampling_rate, recipe.channels, recipe.n_signal, recipe.join_short]).encode())
    for f in files:
        st = f.stat()
        h.update(os.fsencode(f.relative_to(recipe.raw_dir)) + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


FADE_S = 0.005  # fade at each seam of joined audio, so RAVE never learns a click


def convert(f: Path, recipe: Recipe, dest: Path, decoded: Path | None = None):
    """Stream one raw file (or what decode_group made of it), a chunk (2 x n_signal samples, what rave preprocess cuts)
    at a time: whole chunks go to `dest`, a float WAV (so peaks above full scale survive until the
    file is normalised); with join_short the last partial chunk is returned for joining instead.
    NaN/inf become silence. -> (tail or None, samples found, notes) or (None, 0, reason skipped)."""
    import soundfile as sf

    if not f.exists():
        return None, 0, "vanished while preprocessing (deleted or moved)"
    if not os.access(f, os.R_OK):
        return None, 0, "unreadable: no read permission"
    chunk, sr = recipe.chunk, recipe.sampling_rate
    notes, found, peak, out, tail, corrupt = {}, 0, 0.0, None, None, False
    try:
        blocks = raw_blocks(decoded, recipe.channels, chunk) if decoded else stream_audio(f, sr, recipe.channels, chunk)
        for block in blocks:
            bad = ~np.isfinite(block)
            if bad.any():
                notes["nan"] = notes.get("nan", 0) + int(bad.sum())
                block = np.where(bad, 0.0, block).astype(np.float32)
            peak = max(peak, float(np.abs(block).max()))
            found += block.shape[1]
            if block.shape[1] < chunk and recipe.join_short:  # only the last block is short
                tail = block
                break
            if out is None:
                out = sf.SoundFile(str(dest), "w", sr, recipe.channels, subtype="FLOAT", format="WAV")
            out.write(block.T)
    except UserError:
        corrupt = True
    finally:
        if out is not None:
            out.close()
    if corrupt:  # the decoder gave up, maybe part way: nothing of this file may reach rave preprocess
        dest.unlink(missing_ok=True)
        return None, 0, "not audio or corrupt"
    if found == 0:
        return None, 0, "no samples"
    if peak > 1.0:  # float files and resampled peaks exceed full scale; rave's int16 would clip them
        notes["peak"] = peak
        gain = 0.99 / peak
        if out is not None:
            with sf.SoundFile(str(dest), "r+") as w:
                for pos in range(0, w.frames, chunk):
                    w.seek(pos)
                    block = w.read(chunk, dtype="float32", always_2d=True)
                    w.seek(pos)
                    w.write(block * gain)
        if tail is not None:
            tail = tail * gain
    return tail, found, notes


def faded(audio: np.ndarray, sr: int) -> np.ndarray:
    n = min(int(FADE_S * sr), audio.shape[1] // 2)
    if n:
        ramp = np.sin(np.linspace(0, np.pi / 2, n, dtype=np.float32)) ** 2
        audio = audio.copy()
        audio[:, :n] *= ramp
        audio[:, -n:] *= ramp[::-1]
    return audio


GROUP_BYTES = 2 << 20  # files libsndfile cannot read and smaller than this share one ffmpeg process


def converted(recipe: Recipe, files: list[Path], out: Path):
    """Each file converted into out/<index>.wav, several at a time, a window of files at a time so
    memory stays bounded. -> (index, file, tail, samples found, notes) in file order."""
    workers = os.cpu_count() or 2
    scratch = out / ".decoded"
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(files), 32 * workers):
            window = files[start : start + 32 * workers]
            decoded = grouped(recipe, window, scratch)
            results = pool.map(
                lambda i: convert(files[i], recipe, out / f"{i:05d}.wav", decoded.get(files[i])),
                range(start, start + len(window)),
            )
            yield from ((i, f, *result) for i, (f, result) in enumerate(zip(window, results), start))
            shutil.rmtree(scratch, ignore_errors=True)


def grouped(recipe: Recipe, window: list[Path], scratch: Path) -> dict:
    """Small files libsndfile cannot read, decoded by one ffmpeg process -> {file: raw samples}. A group
    that fails is halved until each bad file stands alone; convert then decodes it (and tells why)."""
    small = [f for f in window if f.is_file() and f.stat().st_size < GROUP_BYTES and not sndfile_reads(f)]
    decoded, todo, runs = {}, [small], 0
    while todo:
        group = todo.pop()
        if len(group) < 2:
            continue
        runs += 1
        done = decode_group(group, recipe.sampling_rate, recipe.channels, scratch / str(runs))
        decoded.update(done)
        if not done:
            todo += [group[: len(group) // 2], group[len(group) // 2 :]]
    return decoded


def warn_about(recipe: Recipe, nan_files: list, loud_files: list, skipped: list) -> None:
    """One warning line per kind: NaN samples silenced, overs normalised, files skipped (and why)."""
    if nan_files:
        warn(
            f"{len(nan_files)} file(s) had NaN/inf samples, replaced by silence: {', '.join(nan_files[:5])}"
            + (" ..." if len(nan_files) > 5 else "")
        )
    if loud_files:
        warn(
            f"{len(loud_files)} file(s) peaked above full scale (up to {max(loud_files):.2f}x: float "
            "files, lossy codecs, resampling), normalised to 0.99"
        )
    if skipped:
        hint = ""
        if any(Path(s["file"]).suffix.lower() in (".raw", ".pcm") for s in skipped):
            hint = (
                f" (headerless .raw/.pcm: convert with ffmpeg -f s16le -ar {SR} -ac 1 -i FILE.raw FILE.wav, "
                "giving its real format, rate and channels)"
            )
        warn(
            f"skipped {len(skipped)} file(s) in {recipe.raw_dir}: "
            + ", ".join(f"{Path(s['file']).name} ({s['why']})" for s in skipped[:10])
            + (" ..." if len(skipped) > 10 else "")
            + hint
        )


def clean(recipe: Recipe, files: list[Path]) -> dict:
    """Convert every raw file into clean_dir (a working folder, removed once the database is built),
    several files at a time, never more than a chunk of one file in memory.

    Each file's whole chunks go to their own WAV. With join_short, what is left (a short file, or the
    tail of a long one) is faded and joined, in file order, into joined-*.wav, so only the last partial
    chunk of all of it is lost. Returns the accounting: sources, seconds found, skipped files."""
    import soundfile as sf

    out = recipe.clean_dir
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sr, chunk = recipe.sampling_rate, recipe.chunk
    kept, skipped, nan_files, loud_files = [], [], [], []
    pending, pending_from = [], []  # audio waiting to be joined, and where it came from
    found = 0

    def write_joined(final: bool) -> None:
        audio = np.concatenate(pending, axis=1)
        whole = audio.shape[1] // chunk * chunk
        if whole:
            name = f"joined-{sum(1 for k in kept if 'sources' in k):05d}.wav"
            sf.write(str(out / name), audio[:, :whole].T, sr, subtype="FLOAT", format="WAV")
            kept.append({"clean": name, "sources": list(dict.fromkeys(pending_from)), "seconds": whole / sr})
        pending[:] = [audio[:, whole:]] if audio.shape[1] > whole and not final else []
        # what is carried is less than the last piece (a window is written as soon as it is full): its file
        pending_from[:] = pending_from[-1:] if pending else []

    for i, f, tail, n, notes in converted(recipe, files, out):
        if n == 0:
            skipped.append({"file": shown(f), "why": notes})
            continue
        if "nan" in notes:
            nan_files.append(f"{shown(f)} ({notes['nan']} samples)")
        if "peak" in notes:
            loud_files.append(notes["peak"])
        found += n
        head = n - (tail.shape[1] if tail is not None else 0)
        if head:
            kept.append({"source": shown(f), "clean": f"{i:05d}.wav", "seconds": head / sr})
        if tail is not None:
            pending.append(faded(tail, sr))
            pending_from.append(shown(f))
            if sum(p.shape[1] for p in pending) >= 64 * chunk:
                write_joined(final=False)
    left = 0
    if pending:
        left = sum(p.shape[1] for p in pending) % chunk
        write_joined(final=True)
    warn_about(recipe, nan_files, loud_files, skipped)
    if not kept and not found:
        raise UserError(
            f"no usable audio in {recipe.raw_dir}: every file was unreadable or empty; add recordings ffmpeg can read"
        )
    return {"kept": kept, "found_s": found / sr, "skipped": skipped, "left_s": left / sr if recipe.join_short else None}
