"""Decode any audio file at a given rate and channel count, and write WAVs atomically.

libsndfile (in-process) reads what it can: WAV, AIFF, FLAC, OGG, Opus, MP3 at one or two channels.
Its channel mixing is ffmpeg's own (each side at -3 dB, the same float32 products), so a file at
the target rate decodes to the very samples ffmpeg gives; other rates go through soxr (HQ). What
libsndfile cannot read (AAC, M4A, WMA, more than two channels...) goes through ffmpeg, as rave
preprocess does; decode_group decodes many such files with one ffmpeg process instead of one each.
"""

import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from safeio.errors import UserError, require_tool
from safeio.files import atomic_path

MINUS_3DB = np.float32(np.sqrt(0.5))  # ffmpeg's gain for each side of a stereo -> mono mix, and mono -> stereo


def stream_audio(path, sr: int, channels: int = 1, block: int = 1 << 18, fmt: str | None = None):
    """Yield float32 [channels, block] blocks of a file (only the last one shorter), so that a
    multi-hour recording never sits in memory whole. fmt forces ffmpeg with that input format.

    Raises UserError when the file is missing or cannot be decoded, or ffmpeg makes no end (a
    watchdog kills it). NaN/inf samples are kept: callers decide whether to repair or reject them.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    opened = None if fmt else sndfile_open(path)
    if opened is None:
        yield from reblocked(ffmpeg_blocks(path, sr, channels, block, fmt), channels, block)
        return
    with opened as f:
        yield from reblocked(sndfile_blocks(f, path, sr, channels, block), channels, block)


def sndfile_open(path: Path):
    """The file opened by libsndfile, or None where it cannot read it or mix its channels as ffmpeg does."""
    import soundfile as sf

    try:
        f = sf.SoundFile(os.fsencode(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError):
        return None
    if f.channels > 2:  # ffmpeg's matrices for surround layouts are its own
        f.close()
        return None
    return f


def sndfile_reads(path: Path) -> bool:
    f = sndfile_open(path)
    if f is not None:
        f.close()
    return f is not None


def sndfile_blocks(f, path: Path, sr: int, channels: int, block: int):
    import soundfile as sf
    import soxr

    rate = f.samplerate
    stream = soxr.ResampleStream(rate, sr, channels, dtype="float32", quality="HQ") if rate != sr else None
    step = max(1, block * rate // sr)
    while True:
        try:
            x = f.read(step, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as e:
            raise UserError(f"{path}: not readable as audio ({e}); remove it or convert it to WAV") from None
        last = len(x) < step
        if f.channels != channels:  # ffmpeg's mix: the same products, summed in float32
            x = x * MINUS_3DB
            x = x.sum(axis=1, keepdims=True, dtype=np.float32) if channels == 1 else np.repeat(x, channels, axis=1)
        if stream is not None:
            x = stream.resample_chunk(np.ascontiguousarray(x), last=last)
        if len(x):
            yield np.ascontiguousarray(x.T)
        if last:
            return


def reblocked(blocks, channels: int, block: int):
    """The same samples in blocks of exactly `block` frames, the last one shorter."""
    held, n = [], 0
    for b in blocks:
        held.append(b)
        n += b.shape[1]
        if n >= block:
            x = np.concatenate(held, axis=1)
            whole = x.shape[1] // block * block
            yield from (x[:, i : i + block].copy() for i in range(0, whole, block))
            held, n = [x[:, whole:]], x.shape[1] - whole
    if n:
        yield np.concatenate(held, axis=1)


def ffmpeg_command(inputs: list, sr: int, channels: int, outputs: list, fmt: str | None = None) -> list:
    cmd = [require_tool("ffmpeg"), "-nostdin", "-v", "error"]
    for p in inputs:
        cmd += (["-f", fmt] if fmt else []) + ["-i", str(p)]
    for k, out in enumerate(outputs):
        mapped = ["-map", f"{k}:a:0"] if len(inputs) > 1 else []
        cmd += mapped + ["-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(sr), str(out)]
    return cmd


def ffmpeg_run(cmd: list, size: int, stdout=None):
    """ffmpeg started with a watchdog (it decodes far faster than 0.1 MB/s): -> (process, watchdog, limit)."""
    limit = 120 + size / 1e6 * 10
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=err)
    proc.err = err
    watchdog = threading.Timer(limit, proc.kill)
    watchdog.start()
    return proc, watchdog, limit


def ffmpeg_blocks(path: Path, sr: int, channels: int, block: int, fmt: str | None):
    cmd = ffmpeg_command([path], sr, channels, ["-"], fmt)
    proc, watchdog, limit = ffmpeg_run(cmd, path.stat().st_size, subprocess.PIPE)
    try:
        yield from f32_blocks(proc.stdout, channels, block)
        code = proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:  # the caller stopped early
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.err.seek(0)
        reason = proc.err.read().decode(errors="replace").strip().splitlines()
        proc.err.close()
    if code == -signal.SIGKILL:
        raise UserError(
            f"{path}: ffmpeg did not finish decoding it within {limit:.0f} s; check the file or convert it to WAV"
        )
    if code != 0:
        reason = reason[-1] if reason else f"ffmpeg exit {code}"
        raise UserError(f"{path}: not readable as audio ({reason}); remove it or convert it to WAV")


def decode_group(paths: list, sr: int, channels: int, folder: Path) -> dict:
    """Decode several files with one ffmpeg process into folder/<k>.f32 -> {path: raw file}; {} when
    ffmpeg fails on any of them (decode those one by one to learn which, and why)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    outputs = [Path(folder) / f"{k}.f32" for k in range(len(paths))]
    proc, watchdog, _ = ffmpeg_run(ffmpeg_command(paths, sr, channels, outputs), sum(p.stat().st_size for p in paths))
    try:
        code = proc.wait()
    finally:
        watchdog.cancel()
        proc.err.close()
    if code != 0:
        for out in outputs:
            out.unlink(missing_ok=True)
        return {}
    return dict(zip(paths, outputs))


def f32_blocks(stream, channels: int, block: int):
    """[channels, <= block] blocks of interleaved little-endian float32 samples read from a binary stream."""
    while data := stream.read(block * channels * 4):
        samples = np.frombuffer(data, dtype="<f4")
        yield samples[: len(samples) // channels * channels].reshape(-1, channels).T.copy()


def raw_blocks(raw: Path, channels: int, block: int):
    """The blocks of a headerless float32 file that decode_group wrote."""
    with open(raw, "rb") as f:
        yield from f32_blocks(f, channels, block)


def decode_audio(path, sr: int, channels: int = 1, fmt: str | None = None) -> np.ndarray:
    """Return float32 samples [channels, n] of a whole file at `sr` (see stream_audio)."""
    blocks = list(stream_audio(path, sr, channels, fmt=fmt))
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((channels, 0), np.float32)


def write_wav(path, audio: np.ndarray, sr: int, subtype: str = "PCM_16") -> None:
    """Write [channels, n] or [n] float audio to a WAV, atomically."""
    import soundfile as sf

    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    try:
        with atomic_path(path) as tmp:
            sf.write(os.fsencode(tmp), audio.T, sr, subtype=subtype, format="WAV")  # bytes: any file name
    except (OSError, sf.LibsndfileError) as e:
        why = getattr(e, "strerror", None) or str(e).strip().splitlines()[0][:120]
        raise UserError(f"cannot write {path} ({why}): choose a folder you can write to")
