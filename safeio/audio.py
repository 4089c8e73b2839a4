"""Decode any audio file through ffmpeg (as rave preprocess does) and write WAVs atomically."""

import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from safeio.errors import UserError, require_tool
from safeio.files import atomic_path


def stream_audio(path, sr: int, channels: int = 1, block: int = 1 << 18, fmt: str | None = None):
    """Yield float32 [channels, <= block] blocks of a file, resampled and mixed by ffmpeg, so that a
    multi-hour recording never sits in memory whole.

    Raises UserError when the file is missing, ffmpeg cannot decode it, or ffmpeg makes no end
    (a watchdog kills it). NaN/inf samples are kept: callers decide whether to repair or reject them.
    """
    ffmpeg = require_tool("ffmpeg")
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    cmd = [ffmpeg, "-nostdin", "-v", "error"]
    if fmt:
        cmd += ["-f", fmt]
    cmd += ["-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(sr), "-"]
    limit = 120 + path.stat().st_size / 1e6 * 10  # seconds; ffmpeg decodes far faster than 0.1 MB/s
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        watchdog = threading.Timer(limit, proc.kill)
        watchdog.start()
        try:
            while data := proc.stdout.read(block * channels * 4):
                samples = np.frombuffer(data, dtype="<f4")
                samples = samples[: len(samples) // channels * channels]
                yield samples.reshape(-1, channels).T.copy()
            code = proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:  # the caller stopped early
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if code != 0:
            err.seek(0)
            reason = err.read().decode(errors="replace").strip().splitlines()
            if code == -signal.SIGKILL:
                raise UserError(
                    f"{path}: ffmpeg did not finish decoding it within {limit:.0f} s; check the file or convert "
                    f"it to WAV"
                )
            reason = reason[-1] if reason else f"ffmpeg exit {code}"
            raise UserError(f"{path}: not readable as audio ({reason}); remove it or convert it to WAV")


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
