"""Inlet sources for rendering: a WAV file or a generator spec such as `saw:110` or `lfo:0.2:1:38`.

Spec grammar: NAME[:ARG[:ARG...]], arguments in the order listed in GENERATORS (defaults in brackets).
"""

from pathlib import Path

import numpy as np

from safeio import UserError, decode_audio, warn

GENERATORS = {
    "sine": ("freq=440 amp=0.5", lambda t, dur, f=440, a=0.5: a * np.sin(2 * np.pi * f * t)),
    "saw": ("freq=110 amp=0.5", lambda t, dur, f=110, a=0.5: a * (2 * ((f * t) % 1.0) - 1)),
    "square": ("freq=110 amp=0.5", lambda t, dur, f=110, a=0.5: a * np.sign(np.sin(2 * np.pi * f * t) + 1e-12)),
    "noise": (
        "amp=0.5 seed=0",
        lambda t, dur, a=0.5, seed=0: a * np.random.default_rng(int(seed)).uniform(-1, 1, t.shape),
    ),
    "impulse": (
        "period_s=0 amp=1 (0: a single impulse at t=0)",
        lambda t, dur, p=0, a=1: (
            a * ((np.arange(len(t)) % max(int(round(p * len(t) / dur)), 1) == 0) if p > 0 else np.arange(len(t)) == 0)
        ),
    ),
    "silence": ("", lambda t, dur: np.zeros_like(t)),
    "const": ("value=1", lambda t, dur, v=1: np.full_like(t, v)),
    "lfo": (
        "freq=0.5 low=0 high=1",
        lambda t, dur, f=0.5, lo=0, hi=1: lo + (hi - lo) * 0.5 * (1 - np.cos(2 * np.pi * f * t)),
    ),
    "ramp": ("low=0 high=1", lambda t, dur, lo=0, hi=1: lo + (hi - lo) * t / max(dur, 1e-9)),
    "adsr": ("attack=0.01 decay=0.1 sustain=0.7 release=0.3 peak=1 (gate held until release)", None),
}


def adsr(t, dur, attack=0.01, decay=0.1, sustain=0.7, release=0.3, peak=1.0):
    gate_off = max(dur - release, 0.0)
    env = np.interp(t, [0, attack, attack + decay, max(gate_off, attack + decay)], [0, 1, sustain, sustain])
    env = np.where(t > gate_off, sustain * np.clip(1 - (t - gate_off) / max(release, 1e-9), 0, 1), env)
    return peak * env


def describe() -> str:
    return "; ".join(f"{name}:{args.replace(' ', ':')}" if args else name for name, (args, _) in GENERATORS.items())


def make(spec: str, seconds: float, sr: int) -> np.ndarray:
    """One inlet's signal, float32 [n]."""
    n = int(round(seconds * sr))
    path = Path(spec)
    if path.suffix.lower() in {".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3"} or path.exists():
        return from_file(path, n, sr)
    name, *args = spec.split(":")
    if name not in GENERATORS:
        raise UserError(f"unknown source {spec!r}: give an audio file or one of {describe()}")
    try:
        values = [float(a) for a in args if a != ""]
    except ValueError:
        raise UserError(f"source {spec!r}: arguments must be numbers ({name}:{GENERATORS[name][0].replace(' ', ':')})")
    t = np.arange(n) / sr
    fn = adsr if name == "adsr" else GENERATORS[name][1]
    try:
        return np.asarray(fn(t, seconds, *values), dtype=np.float32)
    except TypeError:
        raise UserError(f"source {spec!r}: too many arguments ({name} takes {GENERATORS[name][0] or 'none'})")


def from_file(path: Path, n: int, sr: int) -> np.ndarray:
    import soundfile as sf

    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    try:
        info = sf.info(str(path))
        native_sr, channels = info.samplerate, info.channels
    except RuntimeError:
        native_sr, channels = None, None  # not a libsndfile format: let ffmpeg say whether it is audio
    if native_sr is not None and native_sr != sr:
        raise UserError(
            f"{path} is at {native_sr} Hz but the host runs at {sr} Hz: pass --sr {native_sr} "
            f"or resample it (ffmpeg -i '{path}' -ar {sr} out.wav)"
        )
    if channels and channels > 1:
        warn(f"{path}: {channels} channels mixed down to one inlet")
    x = decode_audio(path, sr, 1)[0]
    if len(x) >= n:
        return x[:n]
    return np.pad(x, (0, n - len(x)))
