"""compare.latent's trajectories and compare.metrics' timeline measures, on arrays with known answers."""

import numpy as np
import pytest

from compare import latent, metrics
from spec.host import SR

RATE = SR / 512  # v2_small's latent frames per second


@pytest.mark.parametrize("kind", latent.PRIOR_KINDS + latent.DATA_KINDS)
def test_a_trajectory_is_the_same_for_a_seed_and_differs_between_seeds(kind):
    mean, cov = np.array([0.5, -1.0, 2.0]), np.diag([0.25, 1.0, 4.0])
    a, b = (latent.trajectory(kind, 3, 400, s, RATE, mean, cov) for s in (7, 7))
    c = latent.trajectory(kind, 3, 400, 8, RATE, mean, cov)
    assert a.shape == (3, 400) and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_each_kind_has_the_distribution_it_names():
    n = 200_000
    white = latent.trajectory("N(0,1) white", 2, n, 0, RATE)
    smooth = latent.trajectory("N(0,1) smooth", 2, n, 0, RATE)
    assert np.allclose(white.std(axis=1), 1, atol=0.01) and np.allclose(smooth.std(axis=1), 1, atol=0.05)
    # white: neighbouring frames independent; smooth: nearly equal (sigma = SMOOTH_S s = 21.5 frames)
    lag1 = lambda z: np.corrcoef(z[0, :-1], z[0, 1:])[0, 1]
    assert abs(lag1(white)) < 0.01 and lag1(smooth) > 0.99
    mean, cov = np.array([1.0, -2.0]), np.array([[4.0, 1.2], [1.2, 1.0]])
    data = latent.trajectory("data white", 2, n, 0, RATE, mean, cov)
    assert np.allclose(data.mean(axis=1), mean, atol=0.02) and np.allclose(np.cov(data), cov, atol=0.05)


def test_spectral_distance_is_zero_for_the_same_signal_and_one_for_ten_times_louder():
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    assert metrics.multiresolution_distance(x, x) == 0
    assert metrics.multiresolution_distance(x, 10 * x) == pytest.approx(1.0, abs=0.01)


def test_band_share_of_a_tone_above_and_below_the_split():
    t = np.arange(SR) / SR
    assert metrics.band_share(np.sin(2 * np.pi * 12000 * t), SR, 8000) > 0.99
    assert metrics.band_share(np.sin(2 * np.pi * 1000 * t), SR, 8000) < 0.01


def test_a_persistent_mode_has_its_prominence():
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    spectra = [
        metrics.power_spectrum(0.01 * rng.standard_normal(len(t)) + a * np.sin(2 * np.pi * 3000 * t), SR)
        for a in (0.1, 0.2, 0.3)
    ]
    modes = metrics.persistent_peaks(spectra)
    assert len(modes) == 1 and abs(modes[0] - 3000) < 30
    prom = metrics.mode_prominences(spectra, modes)[0]
    # the median spectrum's sine (amplitude 0.2) over white noise of std 0.01, Welch with a 2048 Hann window:
    # peak density A^2/2 / (1.5 SR/2048) over the noise's 2 std^2 / SR = 51.4 dB above the noise's mean;
    # the prominence is measured from the noise's dips, which lie a few dB below that mean
    snr = 10 * np.log10(0.2**2 / 2 / (1.5 * SR / 2048) / (2 * 0.01**2 / SR))
    assert snr == pytest.approx(51.4, abs=0.05) and snr < prom < snr + 4


def test_the_timeline_writes_strict_json():
    """RAVE logs an infinite validation loss when a validation chunk is silent: metrics.json says null."""
    import json

    from compare.timeline import strict

    record = {
        "validation": float("inf"),
        "metrics": {"hf_share": np.float32("nan"), "modes_hz": [1.0, -np.inf]},
        "step": 3,
    }
    text = json.dumps(strict(record))
    assert json.loads(text, parse_constant=lambda word: pytest.fail(f"{word} is not JSON")) == {
        "validation": None,
        "metrics": {"hf_share": None, "modes_hz": [1.0, None]},
        "step": 3,
    }


def test_a_timeline_checkpoint_s_numbers_are_means_over_the_inputs_of_each_output_s(tmp_path):
    """A checkpoint that halves its input: each output is 0.5 x, so its level and its distance are known per
    input; the timeline shows their mean over the inputs (not the level of a mean, not the worst input)."""
    import torch

    from compare import timeline
    from compare.control_models import Gain

    torch.jit.script(Gain()).save(str(tmp_path / "half.ts"))
    t = np.arange(SR) / SR
    inputs = {
        "sine": (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        "noise": (0.05 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32),
    }
    record = {"step": 10, "phase": 1, "validation": None, "export": tmp_path / "half.ts"}
    m = timeline.measure(record, inputs, None, "k", tmp_path / "out")["metrics"]
    levels = [20 * np.log10(np.sqrt(np.mean((0.5 * x.astype(np.float64)) ** 2))) for x in inputs.values()]
    assert m["loudness_db"] == pytest.approx(np.mean(levels), abs=1e-3)
    distances = [metrics.multiresolution_distance(x, 0.5 * x) for x in inputs.values()]
    assert abs(distances[0] - distances[1]) > 0.01 and m["reconstruction"] == pytest.approx(
        np.mean(distances), abs=1e-4
    )


def test_the_timeline_page_words_its_measures_without_code_names():
    """The page explains each measure and the latent method in words: no constant names, internal keys or
    module paths (the numbers stand where the names are)."""
    import re

    from compare import timeline

    texts = [latent.definition(), *[f"{label} {meaning}" for label, meaning in timeline.CURVES.values()]]
    code = [n for n in [*dir(latent), *dir(timeline)] if n.isupper() and len(n) > 2]
    code += [k for k in timeline.CURVES if "_" in k]  # keys such as hf_share (plain words may appear as words)
    found = [(n, t[:60]) for t in texts for n in code if re.search(rf"\b{re.escape(n)}\b", t)]
    found += [(m, t[:60]) for t in texts for m in re.findall(r"\w+\.py\b", t)]
    assert not found, found
    assert (
        f"over {latent.DATA_CHUNKS} chunks" in latent.definition() and f"{latent.SMOOTH_S:g} s" in latent.definition()
    )
