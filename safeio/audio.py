"""Decode any audio file through ffmpeg (as rave preprocess does) and write WAVs atomically."""
import subprocess
from pathlib import Path

import numpy as np

from safeio.errors import UserError, require_tool
from safeio.files import atomic_path


def decode_audio(path, sr: int, channels: int = 1, fmt: str | None = None) -> np.ndarray:
    """Return float32 samples [channels, n] at `sr`, resampled and mixed by ffmpeg.

    Raises UserError when the file is missing or ffmpeg cannot decode it. NaN/inf samples are kept:
    callers decide whether to repair or reject them.
    """
    ffmpeg = require_tool("ffmpeg")
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    cmd = [ffmpeg, "-nostdin", "-v", "error"]
    if fmt:
        cmd += ["-f", fmt]
    cmd += ["-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(sr), "-"]
    limit = 120 + path.stat().st_size / 1e6 * 10   # seconds; ffmpeg decodes far faster than 0.1 MB/s
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise UserError(f"{path}: ffmpeg did not finish decoding it within {limit:.0f} s; check the file or convert it to WAV")
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = reason[-1] if reason else f"ffmpeg exit {proc.returncode}"
        raise UserError(f"{path}: not readable as audio ({reason}); remove it or convert it to WAV")
    samples = np.frombuffer(proc.stdout, dtype="<f4")
    samples = samples[: len(samples) // channels * channels]
    return samples.reshape(-1, channels).T.copy()


def write_wav(path, audio: np.ndarray, sr: int, subtype: str = "PCM_16") -> None:
    """Write [channels, n] or [n] float audio to a WAV, atomically."""
    import soundfile as sf

    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    with atomic_path(path) as tmp:
        sf.write(str(tmp), audio.T, sr, subtype=subtype, format="WAV")
