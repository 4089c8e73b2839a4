"""Raw recordings -> checked, converted WAVs (clean/, a working folder) -> `rave preprocess` database (db/).

rave preprocess crashes on a non-audio file, trips on some paths (acids-rave #209), and passes NaN
samples through. So every raw file is first decoded by ffmpeg at the recipe's rate and channel count,
checked, repaired where possible, and written under a plain ASCII name; unreadable files are skipped
and listed. The database is built in a temporary folder and renamed into place, so a killed run never
leaves a half database, and it is rebuilt only when the raw files or the recipe's audio settings change.
"""
import concurrent.futures
import dataclasses
import errno
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from rave_pipeline import rave_cli, runs
from rave_pipeline.recipes import CONFIG_FACTS, Recipe
from safeio import UserError, atomic_write_text, require_tool, warn
from safeio.audio import stream_audio

FINGERPRINT = "fingerprint.json"


def raw_files(raw_dir: Path) -> list[Path]:
    """Every file under raw_dir, in a stable order; symlinked folders are followed, loops skipped."""
    if not raw_dir.is_dir():
        raise UserError(f"{raw_dir} does not exist: put recordings there (or run make demo-data)")
    files, seen = [], set()
    for folder, dirs, names in os.walk(raw_dir, followlinks=True):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:   # a link back up the tree
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


FADE_S = 0.005   # fade at each seam of joined audio, so RAVE never learns a click


def convert(f: Path, recipe: Recipe, dest: Path):
    """Stream one raw file through ffmpeg, a chunk (2 x n_signal samples, what rave preprocess cuts)
    at a time: whole chunks go to `dest`, a float WAV (so peaks above full scale survive until the
    file is normalised); with join_short the last partial chunk is returned for joining instead.
    NaN/inf become silence. -> (tail or None, samples found, notes) or (None, 0, reason skipped)."""
    import soundfile as sf

    if not os.access(f, os.R_OK):
        return None, 0, "unreadable: no read permission"
    chunk, sr = recipe.chunk, recipe.sampling_rate
    notes, found, peak, out, tail, corrupt = {}, 0, 0.0, None, None, False
    try:
        for block in stream_audio(f, sr, recipe.channels, block=chunk):
            bad = ~np.isfinite(block)
            if bad.any():
                notes["nan"] = notes.get("nan", 0) + int(bad.sum())
                block = np.where(bad, 0.0, block).astype(np.float32)
            peak = max(peak, float(np.abs(block).max()))
            found += block.shape[1]
            if block.shape[1] < chunk and recipe.join_short:   # only the last block is short
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
    if corrupt:   # ffmpeg gave up, maybe part way: nothing of this file may reach rave preprocess
        dest.unlink(missing_ok=True)
        return None, 0, "not audio or corrupt"
    if found == 0:
        return None, 0, "no samples"
    if peak > 1.0:   # float files and resampled peaks exceed full scale; rave's int16 would clip them
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


def clean(recipe: Recipe, files: list[Path]) -> dict:
    """Convert every raw file into clean_dir (a working folder, removed once the database is built),
    several files at a time (ffmpeg does the work), never more than a chunk of one file in memory.

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
    pending, pending_from = [], []   # audio waiting to be joined, and where it came from
    found = 0

    def write_joined(final: bool) -> None:
        audio = np.concatenate(pending, axis=1)
        whole = audio.shape[1] // chunk * chunk
        if whole:
            name = f"joined-{sum(1 for k in kept if 'sources' in k):05d}.wav"
            sf.write(str(out / name), audio[:, :whole].T, sr, subtype="FLOAT", format="WAV")
            kept.append({"clean": name, "sources": list(dict.fromkeys(pending_from)), "seconds": whole / sr})
        pending[:] = [audio[:, whole:]] if audio.shape[1] > whole and not final else []
        pending_from[:] = pending_from[-1:] if pending else []

    workers = os.cpu_count() or 2
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(files), 4 * workers):   # a window at a time: memory stays bounded
            window = files[start:start + 4 * workers]
            results = pool.map(lambda i: convert(files[i], recipe, out / f"{i:05d}.wav"), range(start, start + len(window)))
            for i, (f, (tail, n, notes)) in enumerate(zip(window, results), start):
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
    if nan_files:
        warn(f"{len(nan_files)} file(s) had NaN/inf samples, replaced by silence: {', '.join(nan_files[:5])}"
             + (" ..." if len(nan_files) > 5 else ""))
    if loud_files:
        warn(f"{len(loud_files)} file(s) peaked above full scale (up to {max(loud_files):.2f}x: float "
             "files, lossy codecs, resampling), normalised to 0.99")
    if skipped:
        hint = ""
        if any(Path(s["file"]).suffix.lower() in (".raw", ".pcm") for s in skipped):
            hint = (" (headerless .raw/.pcm: convert with ffmpeg -f s16le -ar 44100 -ac 1 -i FILE.raw FILE.wav, "
                    "giving its real format, rate and channels)")
        warn(f"skipped {len(skipped)} file(s) in {recipe.raw_dir}: "
             + ", ".join(f"{Path(s['file']).name} ({s['why']})" for s in skipped[:10])
             + (" ..." if len(skipped) > 10 else "") + hint)
    if not kept and not found:
        raise UserError(f"no usable audio in {recipe.raw_dir}: every file was unreadable or empty; add recordings ffmpeg can read")
    return {"kept": kept, "found_s": found / sr, "skipped": skipped, "left_s": left / sr if recipe.join_short else None}


def account(recipe: Recipe, report: dict, entries: int) -> dict:
    """Every second found: in the database, or dropped and why."""
    chunk_s = recipe.chunk_seconds
    found, used = report["found_s"], entries * chunk_s
    dropped = []
    if recipe.join_short:
        if report["left_s"]:
            dropped.append({"seconds": report["left_s"], "why": f"the last part of the joined audio, shorter than one {chunk_s:.1f} s chunk"})
    else:
        for k in report["kept"]:
            tail = k["seconds"] - chunks_of(recipe, k["seconds"]) * chunk_s
            if tail > 0:
                dropped.append({"file": k["source"], "seconds": tail,
                                "why": "shorter than a chunk" if tail == k["seconds"] else "tail after the last whole chunk"})
    lost = found - used
    summary = (f"accounting: {found:.1f} s found, {used:.1f} s in the database ({100 * used / found if found else 0:.1f} %), "
               f"{lost:.1f} s dropped" + (f" ({dropped[0]['why']})" if len(dropped) == 1 else
                                          f" ({len(dropped)} files or tails shorter than a chunk; join_short is off)" if dropped else "")
               + (f"; {len(report['skipped'])} file(s) skipped as unreadable" if report["skipped"] else ""))
    return {"found_s": found, "in_database_s": used, "dropped_s": lost, "dropped": dropped,
            "skipped": report["skipped"], "chunk_s": chunk_s, "join_short": recipe.join_short, "summary": summary}


def chunks_of(recipe: Recipe, seconds: float) -> int:
    """rave preprocess cuts each file into chunks of 2 x n_signal samples and drops the remainder."""
    return int(seconds * recipe.sampling_rate) // recipe.chunk


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
        for stale in recipe.db_dir.parent.glob("db.*-*"):   # db.tmp-<pid> / db.old-<pid> of a dead process
            shutil.rmtree(stale, ignore_errors=True)
        try:
            return build(recipe, force)
        except (OSError, RuntimeError) as e:   # soundfile reports a full disk as a bare "System error"
            folder = recipe.db_dir.parent
            if not disk_full(e, folder):
                raise
            shutil.rmtree(recipe.clean_dir, ignore_errors=True)
            raise UserError(f"the disk holding {folder} is full: preprocessing these recordings needs about "
                            f"{megabytes(needed_bytes(recipe))} there and it has {megabytes(free_bytes(folder))} "
                            f"with the partial files removed; free space (or use ROOT= on a bigger disk) and run "
                            f"make preprocess-{recipe.name} again")
        finally:
            shutil.rmtree(recipe.clean_dir, ignore_errors=True)   # a working folder: never read afterwards


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def megabytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def disk_full(e: Exception, folder: Path) -> bool:
    return getattr(e, "errno", None) == errno.ENOSPC or free_bytes(folder) < 1e6


def database_bytes(recipe: Recipe, seconds: float) -> float:
    return 1.1 * seconds * recipe.sampling_rate * recipe.channels * 2   # int16 + LMDB's overhead


def needed_bytes(recipe: Recipe) -> float:
    """Space a preprocess needs at its peak: the float working copy (4 bytes a sample) plus the
    database, from the raw files' durations (ffprobe; asked only when the disk is full)."""
    def duration(f: Path) -> float:
        proc = subprocess.run([require_tool("ffprobe"), "-v", "error", "-show_entries", "format=duration",
                               "-of", "csv=p=0", str(f)], capture_output=True, text=True, timeout=60)
        try:
            return float(proc.stdout.strip())
        except ValueError:
            return 0.0
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        seconds = sum(pool.map(duration, raw_files(recipe.raw_dir)))
    return seconds * recipe.sampling_rate * recipe.channels * 4 + database_bytes(recipe, seconds)


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
    n_chunks = sum(chunks_of(recipe, k["seconds"]) for k in kept)
    if n_chunks == 0:
        raise UserError(f"{recipe.raw_dir}: {report['found_s']:.1f} s of audio, less than one training chunk "
                        f"({recipe.chunk_seconds:.1f} s at n_signal {recipe.n_signal}): "
                        "add recordings (short files are joined when join_short is on)")
    need, free = database_bytes(recipe, seconds), free_bytes(recipe.db_dir.parent)
    if free < need:
        raise UserError(f"the disk holding {recipe.db_dir.parent} has {megabytes(free)} free and the database of "
                        f"{seconds / 60:.0f} min of audio needs {megabytes(need)}: free space (or use ROOT= on a bigger "
                        f"disk) and run make preprocess-{recipe.name} again")

    tmp = recipe.db_dir.with_name(f"db.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = rave_cli.command("preprocess", "--input_path", recipe.clean_dir, "--output_path", tmp,
                           "--num_signal", recipe.n_signal, "--sampling_rate", recipe.sampling_rate,
                           "--channels", recipe.channels, "--max_db_size", 64)
    print(f"rave preprocess: {seconds / 60:.1f} min of audio -> {recipe.db_dir}")
    try:
        limit = 600 + seconds   # rave preprocess runs far faster than real time; a hung ffmpeg does not
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            raise UserError(f"rave preprocess made no end within {limit / 60:.0f} min on {recipe.clean_dir} "
                            f"(a hung ffmpeg?); run make preprocess-{recipe.name} again")
        if proc.returncode != 0 or not (tmp / "data.mdb").exists():
            if "No space left on device" in proc.stdout + proc.stderr:
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
            raise UserError(f"rave preprocess failed on {recipe.clean_dir}:\n{rave_cli.last_lines(proc)}")
        entries = db_entries(tmp)
        accounting = account(recipe, report, entries)
        atomic_write_text(tmp / "sources.json", json.dumps(kept, indent=1, ensure_ascii=False))
        atomic_write_text(tmp / "accounting.json", json.dumps(accounting, indent=1, ensure_ascii=False))
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
        raise UserError(f"{recipe.db_dir} was cut for n_signal {info['n_signal']}, not {recipe.n_signal}: "
                        f"run make preprocess-{recipe.name} N_SIGNAL={recipe.n_signal}")
    need = recipe.min_chunks(batch)
    if info["chunks"] < need:
        raise UserError(size_advice(recipe, batch, info["chunks"], info["seconds"]))
    return info["chunks"]


def size_advice(recipe: Recipe, batch: int, chunks: int, seconds: float) -> str:
    """Why a database is too small, and the real ways out for this dataset: how much more audio at
    this N_SIGNAL, and which N_SIGNAL (if any) fits the audio at hand (a longer example means fewer
    chunks but more latent frames per validation chunk)."""
    chunk_s = recipe.chunk_seconds
    need = recipe.min_chunks(batch)
    more = (need - chunks) * chunk_s
    text = (f"dataset {recipe.db_dir} is too small for RAVE {recipe.config} at n_signal {recipe.n_signal} and batch "
            f"{batch}: it holds {chunks} chunks of {chunk_s:.1f} s ({seconds:.0f} s of audio), and RAVE needs {need} "
            f"(a training batch plus a 2 % validation split big enough for its 128-component PCA). "
            f"Add at least {more:.0f} s of recordings to {recipe.raw_dir}")
    floor = CONFIG_FACTS.get(recipe.config, {}).get("min_n_signal", recipe.compression)
    fits = [n for n in range(floor, 1 << 21, recipe.compression)
            if chunks_of(r := dataclasses.replace(recipe, n_signal=n), seconds) >= r.min_chunks(batch)]
    if fits:
        n = min(fits, key=lambda n: abs(n - recipe.n_signal))
        text += f", or use N_SIGNAL={n}, which fits the audio at hand (preprocess again; lower BATCH if memory runs out)"
    else:
        text += f"; no N_SIGNAL fits {seconds:.0f} s of audio with RAVE {recipe.config}"
    return text
