"""Signal measurements used by the report. Pure functions of numpy arrays; each has a test with a known answer."""

import numpy as np
from scipy import signal as sps

EPS = 1e-12


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def db(v: float, floor: float = -160.0) -> float:
    return float(max(20 * np.log10(max(v, EPS)), floor))


def crest_factor(x: np.ndarray) -> float:
    r = rms(x)
    return float(np.abs(x).max() / r) if r > 0 else 0.0


def power_spectrum(x: np.ndarray, sr: int, n_fft: int = 2048):
    """Welch-averaged power spectrum (Hann, 50 % overlap) -> (freqs, power)."""
    f, p = sps.welch(x, sr, window="hann", nperseg=min(n_fft, len(x)), noverlap=None, detrend=False)
    return f, p


def spectral_stats(x: np.ndarray, sr: int) -> dict:
    """Centroid and bandwidth (Hz) and flatness (0..1, Wiener entropy) of the averaged power spectrum."""
    f, p = power_spectrum(x, sr)
    f, p = f[1:], p[1:]  # no DC
    total = p.sum()
    if total <= EPS:
        return {"centroid_hz": 0.0, "bandwidth_hz": 0.0, "flatness": 0.0}
    c = float((f * p).sum() / total)
    bw = float(np.sqrt(((f - c) ** 2 * p).sum() / total))
    flat = float(np.exp(np.mean(np.log(p + EPS))) / (p.mean() + EPS))
    return {"centroid_hz": c, "bandwidth_hz": bw, "flatness": flat}


def describe(x: np.ndarray, sr: int) -> dict:
    return {**spectral_stats(x, sr), "rms_db": db(rms(x)), "crest_factor": crest_factor(x)}


def log_mel(x: np.ndarray, sr: int, n_mels: int = 64) -> np.ndarray:
    """Time-averaged log-mel spectrum in dB (a timbre fingerprint of a whole signal)."""
    import librosa

    m = librosa.feature.melspectrogram(y=x.astype(np.float32), sr=sr, n_fft=2048, hop_length=512, n_mels=n_mels)
    return 10 * np.log10(m.mean(axis=1) + 1e-10)


def mean_pairwise_distance(vectors: list[np.ndarray]) -> float:
    v = np.stack(vectors)
    d = np.sqrt(((v[:, None] - v[None]) ** 2).sum(-1))
    n = len(v)
    return float(d.sum() / (n * (n - 1))) if n > 1 else 0.0


def homogenisation_index(inputs: list[np.ndarray], outputs: list[np.ndarray], sr: int) -> float:
    """Mean pairwise log-mel distance of the outputs / the same for the inputs.
    1 = the model keeps the diversity of its inputs, 0 = everything comes out as one texture."""
    d_in = mean_pairwise_distance([log_mel(x, sr) for x in inputs])
    d_out = mean_pairwise_distance([log_mel(y, sr) for y in outputs])
    return d_out / d_in if d_in > 0 else float("nan")


def bin_frequency(f: float, n: int, sr: int) -> float:
    """Nearest frequency that falls exactly on an FFT bin of an n-sample window (no leakage)."""
    return max(round(f * n / sr), 1) * sr / n


def tone_response(x: np.ndarray, y: np.ndarray, f: float, sr: int, n: int) -> tuple[float, float]:
    """Gain (dB) at f and total harmonic distortion (ratio, harmonics 2..10) from the last n samples."""
    X = np.abs(np.fft.rfft(x[-n:])) / n
    Y = np.abs(np.fft.rfft(y[-n:])) / n
    k = int(round(f * n / sr))
    gain = db(Y[k] / max(X[k], EPS))
    harmonics = [Y[h * k] for h in range(2, 11) if h * k < len(Y)]
    thd = float(np.sqrt(np.sum(np.square(harmonics))) / max(Y[k], EPS))
    return gain, thd


def persistent_peaks(
    spectra: list[tuple[np.ndarray, np.ndarray]],
    prominence_db: float = 10.0,
    share: float = 0.6,
    tolerance: float = 0.03,
) -> list[float]:
    """Frequencies (Hz) that stand out as spectral peaks in at least `share` of the spectra: resonant
    modes that persist whatever the input."""
    found = []
    for f, p in spectra:
        level = 10 * np.log10(p + EPS)
        idx, _ = sps.find_peaks(level, prominence=prominence_db)
        found.append(f[idx[(f[idx] > 20)]])
    if not found:
        return []
    modes = []
    for cand in sorted(set(np.round(np.concatenate(found), 1))):
        hits = sum(any(abs(g - cand) <= tolerance * cand for g in fs) for fs in found)
        if hits >= share * len(found) and not any(abs(m - cand) <= tolerance * cand for m in modes):
            modes.append(float(cand))
    return modes


def multiresolution_distance(x: np.ndarray, y: np.ndarray, sizes=(256, 1024, 4096)) -> float:
    """How far y's spectrogram is from x's (reconstruction error): the mean absolute difference of the
    log10 magnitudes (Hann STFTs, hop a quarter of the size), averaged over the three sizes. 0 = the
    same spectrogram at every resolution; 1 = a factor of 10 apart on average."""
    n = min(len(x), len(y))
    out = []
    for size in sizes:
        if n < size:
            continue
        _, _, X = sps.stft(x[:n], nperseg=size, noverlap=3 * size // 4, window="hann")
        _, _, Y = sps.stft(y[:n], nperseg=size, noverlap=3 * size // 4, window="hann")
        out.append(np.mean(np.abs(np.log10(np.abs(Y) + 1e-5) - np.log10(np.abs(X) + 1e-5))))
    return float(np.mean(out)) if out else float("nan")


def band_share(x: np.ndarray, sr: int, above_hz: float) -> float:
    """Share (0..1) of x's energy above a frequency."""
    f, p = power_spectrum(x, sr)
    return float(p[f > above_hz].sum() / max(p.sum(), EPS))


def mode_prominences(
    spectra: list[tuple[np.ndarray, np.ndarray]], modes: list[float], tolerance: float = 0.03
) -> list[float]:
    """For each persistent mode (persistent_peaks), its median prominence (dB) over the spectra that show it."""
    peaks = []
    for f, p in spectra:
        idx, props = sps.find_peaks(10 * np.log10(p + EPS), prominence=0)
        peaks.append((f[idx], props["prominences"]))
    out = []
    for m in modes:
        found = [
            prom[np.abs(freqs - m) <= tolerance * m].max()
            for freqs, prom in peaks
            if np.any(np.abs(freqs - m) <= tolerance * m)
        ]
        out.append(float(np.median(found)) if found else 0.0)
    return out
