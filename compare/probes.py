"""The input set: excerpts of the demo (or your) recordings plus synthetic probes."""

from pathlib import Path

import numpy as np

from audition import sources
from safeio import decode_audio, warn
from spec.host import SR

LEVELS_DB = (-40, -20, -6, 0)
TONE_S, TONE_WINDOW = 0.3, 8192
GAP_S = 0.25
IR_PREROLL = 64  # samples kept before the click in the impulse response (its time zero in the figure)


def recordings(paths: list[Path], seconds: float = 4.0, sr: int = SR, names: list[str] | None = None) -> dict:
    """A middle excerpt of each file (mono, at the host rate), under its name (default: <its folder's
    parent>/<its stem>)."""
    out = {}
    for i, p in enumerate(paths):
        try:
            x = decode_audio(p, sr, 1)[0]
        except Exception as e:  # a bad input file must not stop the report
            warn(f"{p}: skipped ({e})")
            continue
        n = int(seconds * sr)
        start = max((len(x) - n) // 2, 0)
        seg = np.nan_to_num(x[start : start + n])
        if len(seg) >= sr // 2:
            out[names[i] if names else f"{p.parent.parent.name}/{p.stem}"] = seg
    return out


def default_recordings(root: Path) -> list[Path]:
    """Two files of each dataset's raw/ (first and last): noise, English and Mandarin for the demo."""
    picks = []
    for folder in sorted((root / "datasets").glob("*/raw")):
        files = sorted(folder.glob("*.wav"))
        picks += files[:1] + files[-1:] if len(files) > 1 else files
    return picks


def synthetic(sr: int = SR) -> dict[str, np.ndarray]:
    sweep_t = np.arange(4 * sr) / sr
    f0, f1 = 20.0, 20000.0
    k = np.log(f1 / f0) / 4.0
    rng = np.random.default_rng(0)
    impulses = np.zeros(3 * sr)
    impulses[:: sr // 4] = 1.0
    return {
        "probe/sine sweep": (0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * sweep_t) - 1) / k)).astype(np.float32),
        "probe/white noise": (0.25 * rng.uniform(-1, 1, 3 * sr) * np.sqrt(3)).astype(np.float32),
        "probe/saw 110 Hz": sources.make("saw:110:0.5", 3.0, sr),
        "probe/impulses 4 Hz": impulses.astype(np.float32),
    }


def tone_frequencies(sr: int = SR, count: int = 12) -> list[float]:
    from compare.metrics import bin_frequency

    return sorted({bin_frequency(f, TONE_WINDOW, sr) for f in np.geomspace(60, 12000, count)})


def tone(f: float, level_db: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(TONE_S * sr)) / sr
    return (10 ** (level_db / 20) * np.sin(2 * np.pi * f * t)).astype(np.float32)
