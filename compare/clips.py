"""Audio beside the figures: short MP3 clips (ffmpeg, 64 kbit/s mono), loudness-matched so that louder is
never mistaken for better, each marked when what the model produced was clipped or silent."""

import html
import subprocess
from pathlib import Path

import numpy as np

from compare import metrics

TARGET_RMS_DB = -20.0  # every clip is played at this RMS ...
PEAK_CEILING = 0.98  # ... unless its peak would pass this (then it plays quieter: the peak decides)
SILENT_BELOW_DB = -60.0  # quieter than this: not raised (it would be noise), marked silent
MAX_SECONDS = 6.0  # longer renders are cut: the report stays small enough to mail
BITRATE = "64k"


def write(x: np.ndarray, sr: int, out_dir: Path, name: str) -> dict:
    """Measure x (as the model produced it), match its loudness, encode it to out_dir/audio/name.mp3.
    -> {"src", "rms_db", "peak", "gain_db", "flags"} with flags from {"clipped", "silent"}."""
    x = np.nan_to_num(np.asarray(x, np.float32)[: int(MAX_SECONDS * sr)])
    rms_db, peak = metrics.db(metrics.rms(x)), float(np.abs(x).max(initial=0.0))
    flags = (["clipped"] if peak > 1.0 else []) + (["silent"] if rms_db < SILENT_BELOW_DB else [])
    gain = 1.0 if "silent" in flags else min(10 ** ((TARGET_RMS_DB - rms_db) / 20), PEAK_CEILING / max(peak, 1e-12))
    src = f"audio/{name}.mp3"
    path = out_dir / src
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    r = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "f32le",
            "-ar",
            str(sr),
            "-ac",
            "1",
            "-i",
            "-",
            "-c:a",
            "libmp3lame",
            "-b:a",
            BITRATE,
            "-f",
            "mp3",
            str(tmp),
        ],
        input=np.clip(x * gain, -1, 1).astype("<f4").tobytes(),
        capture_output=True,
    )
    if r.returncode:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg could not encode {path.name}: {r.stderr.decode(errors='replace').strip()[-300:]}")
    tmp.replace(path)
    return {
        "src": src,
        "rms_db": round(rms_db, 1),
        "peak": round(peak, 3),
        "gain_db": round(metrics.db(gain), 1),
        "flags": flags,
    }


def player(clip: dict, caption: str) -> str:
    """An <audio> player with its caption, the level the model produced, and a warning glyph if needed."""
    e = html.escape
    warn = "".join(f" <span class='warn' title='{f}'>&#9888; {f}</span>" for f in clip["flags"])
    return (
        f"<figure class='clip'><figcaption>{e(caption)} <small>{clip['rms_db']:.0f} dBFS</small>{warn}</figcaption>"
        f"<audio controls preload='metadata' src='{e(clip['src'])}'></audio></figure>"
    )


def slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in str(name))
