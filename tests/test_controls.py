"""Each detector on a model whose answer is known, through the same code as make compare: the self-oscillation
threshold of a model that turns on at a known control value, the impulse latency of a known delay, the
buffer-edge level of a model that clicks at every block edge against one that does not; and for each claim a
control that must make it hold and one that must make it fail."""

import numpy as np
import pytest
import torch

from audition import sources
from audition.model_file import open_export
from compare import analyse, control_models, controls, probes
from spec.host import SR, VALIDATION_BUFFERS
from spec.instruments import CONTROL


@pytest.fixture(scope="module")
def inputs():
    return probes.synthetic()


def export_of(cls, tmp_path):
    path = tmp_path / f"{cls.__name__}.ts"
    torch.jit.script(cls()).save(str(path))
    return open_export(path)


def test_the_self_oscillation_threshold_is_the_first_swept_value_past_the_model_s(tmp_path, inputs):
    r, _ = analyse.analyse(export_of(control_models.Oscillator, tmp_path), "chaos", inputs)
    swept = np.linspace(CONTROL.low, CONTROL.high, analyse.SWEEP_POINTS)
    assert r["self_oscillation"]["values"] == pytest.approx(list(swept))
    assert r["self_oscillation"]["threshold"] == pytest.approx(swept[swept > control_models.Oscillator.THRESHOLD][0])
    silent = np.array(r["self_oscillation"]["silent_input_db"])
    on = swept > control_models.Oscillator.THRESHOLD
    assert silent[on] == pytest.approx(20 * np.log10(0.05 / np.sqrt(2)), abs=0.1)  # the tone's RMS from silence
    assert (silent[~on] < analyse.SILENT_DB).all()
    g, _ = analyse.analyse(export_of(control_models.Gain, tmp_path), "chaos", inputs)
    assert g["self_oscillation"]["threshold"] is None


class AlwaysOn(control_models.Oscillator):
    """Oscillates at every value of the control's range: the threshold is the sweep's first value."""

    THRESHOLD = CONTROL.low - 1.0


def test_a_model_that_oscillates_everywhere_has_its_threshold_at_the_bottom_of_the_sweep(tmp_path, inputs):
    r, _ = analyse.analyse(export_of(AlwaysOn, tmp_path), "chaos", inputs)
    assert r["self_oscillation"]["threshold"] == CONTROL.low


def test_the_impulse_peak_comes_at_the_model_s_own_delay(tmp_path, inputs):
    r, _ = analyse.analyse(export_of(control_models.Delay, tmp_path), "forward", inputs)
    assert r["impulse_peak_ms"] == pytest.approx(control_models.Delay.SAMPLES * 1000 / SR)
    g, _ = analyse.analyse(export_of(control_models.Gain, tmp_path), "forward", inputs)
    assert g["impulse_peak_ms"] == 0.0


def test_the_buffer_edge_level_of_a_click_at_every_block_edge(tmp_path):
    """The click model at buffer 64 against 8192 differs by a click of 0.1 at every multiple of 64 that is not
    one of 8192; relative to the 8192 render (0.5 x the saw, clicks every 8192)."""
    x = sources.make("saw:110:0.5", 1.0, SR)
    small, large = VALIDATION_BUFFERS[0], VALIDATION_BUFFERS[-1]
    edges = np.zeros(SR)
    edges[::small] = 0.1
    edges[::large] = 0.0
    reference = 0.5 * x
    reference[::large] += 0.1
    expected = 20 * np.log10(np.sqrt(np.mean(edges**2)) / np.sqrt(np.mean(reference**2)))
    assert analyse.edge_artifact_db(export_of(control_models.EdgeClick, tmp_path), "chaos", SR) == pytest.approx(
        expected, abs=0.01
    )
    assert analyse.edge_artifact_db(export_of(control_models.Gain, tmp_path), "chaos", SR) < -120


def test_one_texture_has_no_diversity_left_and_a_gain_keeps_all_of_it(tmp_path, inputs):
    one, _ = analyse.analyse(export_of(control_models.OneTexture, tmp_path), "forward", inputs)
    kept, _ = analyse.analyse(export_of(control_models.Gain, tmp_path), "forward", inputs)
    assert kept["homogenisation_index"] == pytest.approx(1.0, abs=1e-3)  # a gain shifts every log-mel alike
    assert one["homogenisation_index"] < 0.1


def test_a_resonance_is_found_at_its_frequency_and_a_gain_has_none(tmp_path, inputs):
    r, _ = analyse.analyse(export_of(control_models.Resonance, tmp_path), "forward", inputs)
    assert any(abs(m - 2000.0) <= SR / 2048 for m in r["resonant_modes_hz"]), r["resonant_modes_hz"]
    g, _ = analyse.analyse(export_of(control_models.Gain, tmp_path), "forward", inputs)
    assert g["resonant_modes_hz"] == []


def test_every_claim_holds_for_its_control_and_fails_for_the_other():
    results, heard = controls.judge()
    claims = {"near_linear", "resonant_modes", "self_oscillation", "topo_hotter", "buffer_dependence"}
    claims |= {"homogenisation", "neural_sound", "random_latents", "finetune"}  # all nine of the report's
    assert set(heard) == {(c, role) for c in claims for role in ("holds", "fails")}
    assert [r["id"] for r in results] == list(dict.fromkeys(r["id"] for r in results)) and len(results) == 9
    assert {r["id"] for r in results} == claims
    wrong = [r for r in results if (r["verdict_holds"], r["verdict_fails"]) != ("supported", "refuted")]
    assert not wrong, wrong


def test_the_saturator_is_near_linear_when_quiet_by_the_algebra(tmp_path, inputs):
    """tanh(4x)/4 at amplitude A: third harmonic / fundamental ~ (4A)^2 / 12 for small A."""
    r, _ = analyse.analyse(export_of(control_models.Saturator, tmp_path), "forward", inputs)
    quiet = [d["thd"] for d in r["frequency_response"]["-40"]]
    amplitude = 10 ** (-40 / 20)
    assert np.median(quiet) == pytest.approx((4 * amplitude) ** 2 / 12, rel=0.05)


def test_latent_diversity_of_a_decoder_that_ignores_its_latent_is_zero(tmp_path):
    """The training chunks: one noise at five gains (0.25-4), so log-mel(g x) = log-mel(x) + 20 log10 g in each
    of the 64 bands and two chunks lie 8 * |20 log10(g_i / g_j)| apart; every decoded clip is the same tone."""
    from compare import latent

    gains = [0.25, 0.5, 1.0, 2.0, 4.0]
    chunks = controls.latent_data()  # the latent controls' training data, as the report measures them
    assert len(chunks) == 5 and all(len(c) == latent.SECONDS * SR for c in chunks)
    db = 20 * np.log10(gains)
    expected = np.mean([8 * abs(a - b) for i, a in enumerate(db) for j, b in enumerate(db) if i != j])
    r, _ = latent.analyse(export_of(control_models.FixedDecoder, tmp_path), chunks, key=str(tmp_path))
    assert r["data_diversity"] == pytest.approx(expected, rel=1e-4)
    assert r["decoded_diversity"] == 0.0 and r["diversity_ratio"] == 0.0
