"""Known answers for the numbers under the report's verdicts: each measurement on signals whose answer follows
from the mathematics (or a few lines of numpy written here), never from the code under test."""

import numpy as np
import pytest
from scipy import signal as sps

from compare import analyse, clips, metrics
from spec.host import SR

N = 4096  # the analysis window of a tone (bin-exact frequencies: no leakage)


def tone(f_bin: int, amplitude: float = 1.0, n: int = N) -> tuple[np.ndarray, float]:
    """A sine exactly on FFT bin f_bin of an n-sample window. -> (signal, its frequency)."""
    f = f_bin * SR / n
    return amplitude * np.sin(2 * np.pi * f * np.arange(n) / SR), f


@pytest.mark.parametrize("a,amp", [(0.1, 0.5), (0.5, 1.0), (2.0, 0.3)])
def test_thd_of_a_cubic_is_the_algebra_s(a, amp):
    """y = x + a x^3 with x = A sin: sin^3 = (3 sin - sin 3)/4, so the fundamental is A + 3aA^3/4 and the
    third harmonic aA^3/4; nothing else."""
    x, f = tone(50, amp)
    gain, thd = metrics.tone_response(x, x + a * x**3, f, SR, N)
    fundamental, third = amp + 3 * a * amp**3 / 4, a * amp**3 / 4
    assert thd == pytest.approx(third / fundamental, rel=1e-6)
    assert gain == pytest.approx(20 * np.log10(fundamental / amp), abs=1e-6)


@pytest.mark.parametrize("b,amp", [(0.2, 0.5), (1.0, 1.0)])
def test_thd_of_a_square_law_is_the_algebra_s(b, amp):
    """y = x + b x^2: sin^2 = (1 - cos 2)/2, a second harmonic of bA^2/2 (and DC, which is no harmonic)."""
    x, f = tone(50, amp)
    gain, thd = metrics.tone_response(x, x + b * x**2, f, SR, N)
    assert thd == pytest.approx(b * amp / 2, rel=1e-6)
    assert gain == pytest.approx(0.0, abs=1e-6)


def test_thd_counts_harmonics_2_to_10_and_no_others():
    """Harmonics of known amplitude h_k on k = 2..10 count, the 11th and a non-harmonic tone do not."""
    x, f = tone(40)
    t = np.arange(N) / SR
    h = {k: 0.01 * k for k in range(2, 11)}
    y = x + sum(v * np.sin(2 * np.pi * k * f * t) for k, v in h.items())
    y += 0.3 * np.sin(2 * np.pi * 11 * f * t) + 0.3 * np.sin(2 * np.pi * (f * 2.5) * t)
    _, thd = metrics.tone_response(x, y, f, SR, N)
    assert thd == pytest.approx(np.sqrt(sum(v * v for v in h.values())), rel=1e-6)


@pytest.mark.parametrize("g", [0.1, 1.0, 3.0])
def test_a_pure_gain_has_no_distortion_and_its_gain_in_db(g):
    x, f = tone(73, 0.5)
    gain, thd = metrics.tone_response(x, g * x, f, SR, N)
    assert thd == pytest.approx(0.0, abs=1e-9)
    assert gain == pytest.approx(20 * np.log10(g), abs=1e-9)


def white(seconds: float = 1.0, seed: int = 0, level: float = 0.3) -> np.ndarray:
    return level * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def test_spectral_distance_to_itself_is_zero_and_to_a_scaled_copy_is_log10_of_the_gain():
    """mean |log10|gX| - log10|X||  = log10 g wherever |X| is far above the 1e-5 floor (noise at 0.3 is)."""
    x = white()
    assert metrics.multiresolution_distance(x, x) == 0.0
    assert metrics.multiresolution_distance(x, 10 * x) == pytest.approx(1.0, abs=2e-3)
    assert metrics.multiresolution_distance(x, 0.5 * x) == pytest.approx(np.log10(2), abs=2e-3)


def test_a_resonant_filter_s_peak_is_found_within_one_bin_and_flat_noise_has_none():
    f0 = 2000.0
    b, a = sps.iirpeak(f0, Q=30, fs=SR)
    resonant = [
        metrics.power_spectrum(sps.lfilter(b, a, white(seed=s)) + 0.01 * white(seed=50 + s), SR) for s in range(5)
    ]
    flat = [metrics.power_spectrum(0.5 * white(seed=s), SR) for s in range(5)]
    bin_hz = SR / 2048  # power_spectrum's resolution
    modes = metrics.persistent_peaks(resonant)
    assert len(modes) == 1 and abs(modes[0] - f0) <= bin_hz, modes
    assert metrics.persistent_peaks(flat) == []


def test_a_comb_filter_s_teeth_are_its_modes():
    """y[n] = x[n] + 0.9 y[n - D]: peaks at every multiple of SR / D (25.6 dB above the troughs)."""
    d = 441  # teeth every 100 Hz
    spectra = [
        metrics.power_spectrum(sps.lfilter([1.0], [1.0] + [0.0] * (d - 1) + [-0.9], white(seed=s)), SR)
        for s in range(4)
    ]
    modes = metrics.persistent_peaks(spectra)
    teeth = np.arange(1, d // 2 + 1) * SR / d
    bin_hz = SR / 2048
    assert len(modes) >= 40
    assert all(np.min(np.abs(teeth - m)) <= bin_hz for m in modes), modes


def band_limited(low: float | None, high: float | None, seed: int = 0) -> np.ndarray:
    x = white(2.0, seed)
    if low:
        x = sps.sosfiltfilt(sps.butter(10, low, "highpass", fs=SR, output="sos"), x)
    if high:
        x = sps.sosfiltfilt(sps.butter(10, high, "lowpass", fs=SR, output="sos"), x)
    return x


def test_high_frequency_share_of_band_limited_noise():
    """White noise spreads its power evenly up to SR/2: (SR/2 - 8 kHz) / (SR/2) of it lies above 8 kHz."""
    assert metrics.band_share(white(4.0), SR, 8000) == pytest.approx((SR / 2 - 8000) / (SR / 2), abs=0.01)
    assert metrics.band_share(band_limited(None, 4000), SR, 8000) < 1e-3
    assert metrics.band_share(band_limited(12000, None), SR, 8000) > 0.999


def test_high_frequency_gain_is_the_ratio_of_the_shares_in_db():
    x = {"noise": white(4.0)}
    assert analyse.hf_gain_db(x, {"noise": 0.3 * x["noise"]}, SR) == pytest.approx(0.0, abs=1e-9)
    share_in = (SR / 2 - 8000) / (SR / 2)
    brightened = {"noise": band_limited(12000, None)}  # all of it above 8 kHz
    assert analyse.hf_gain_db(x, brightened, SR) == pytest.approx(10 * np.log10(1 / share_in), abs=0.1)


@pytest.mark.parametrize("side", [-1, 1])
def test_a_clip_is_marked_silent_and_clipped_on_either_side_of_its_thresholds(tmp_path, side):
    """RMS a hair below / above SILENT_BELOW_DB, and a peak a hair above / below full scale."""
    t = np.arange(SR) / SR
    level = 10 ** ((-60.0 + 0.5 * side) / 20) * np.sqrt(2)  # -60 dBFS, as promised; a sine's RMS is its peak / sqrt 2
    quiet = clips.write(level * np.sin(2 * np.pi * 440 * t), SR, tmp_path, f"quiet{side}")
    assert ("silent" in quiet["flags"]) == (side < 0)
    peak = 1.0 + 0.01 * side
    loud = clips.write(peak * np.sin(2 * np.pi * 441 * t), SR, tmp_path, f"loud{side}")
    assert ("clipped" in loud["flags"]) == (side > 0)
    assert loud["peak"] == pytest.approx(peak, abs=1e-3)


def test_loudness_matching_plays_every_clip_at_the_target_unless_its_peak_decides(tmp_path):
    """A sine at -40 dBFS RMS is raised to the target RMS; a crest factor of 100 (one click) plays at the
    peak ceiling instead; a silent clip is left as it is."""
    t = np.arange(SR) / SR
    sine = 10 ** (-40 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)
    c = clips.write(sine, SR, tmp_path, "sine")
    assert c["rms_db"] == pytest.approx(-40.0, abs=0.05)
    assert c["gain_db"] == pytest.approx(-20.0 + 40.0, abs=0.1)  # the promised -20 dBFS RMS
    click = np.zeros(SR)
    click[100] = 0.5
    c = clips.write(click, SR, tmp_path, "click")
    assert c["gain_db"] == pytest.approx(20 * np.log10(0.98 / 0.5), abs=0.1)  # the promised peak ceiling
    c = clips.write(np.zeros(SR), SR, tmp_path, "nothing")
    assert c["gain_db"] == 0.0 and c["flags"] == ["silent"]


@pytest.mark.parametrize("with_tone,persists", [(2, False), (3, True)])
def test_a_peak_is_a_mode_only_when_it_persists_across_60_percent_of_the_outputs(with_tone, persists):
    """A 3 kHz tone in 2 of 5 outputs is an input's own peak; in 3 of 5 it is a mode."""
    t = np.arange(SR) / SR
    outputs = [white(seed=s) + (0.3 * np.sin(2 * np.pi * 3000 * t) if s < with_tone else 0) for s in range(5)]
    modes = metrics.persistent_peaks([metrics.power_spectrum(y, SR) for y in outputs])
    assert (len(modes) == 1 and abs(modes[0] - 3000) <= SR / 2048) if persists else modes == []
