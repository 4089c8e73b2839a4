"""Beyond the essay: block-size invariance, live weight morphing, the fine-tuned hybrid."""

import json

import numpy as np
import pytest
import torch

from audition.host import Host
from audition.model_file import open_export
from audition.validate import validate
from chaos_models.beyond import STREAM_DELAY, MorphChaosEffect, StreamingChaosEffect
from chaos_models.export import build, export, export_beyond
from chaos_models.models import ChaosEffect
from helpers.audio import sox_noise


def signal_and_control(n=16384, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 2, n, generator=g) * 2 - 1
    x[:, 1] = 1 + 37 * torch.rand(n, generator=g)  # control over the essay's whole 1-38 range
    return x.numpy()


def render(path, method, x, buffer):
    return Host(open_export(path), method, buffer).run(x)[0, 0, : x.shape[-1]]


def test_streaming_chaos_is_block_size_invariant(tmp_path):
    stream = export(build("streaming_chaos_effect", seed=0), tmp_path / "s.ts")
    plain = export(build("chaos_effect", seed=0), tmp_path / "p.ts")
    x = signal_and_control()
    s64, s8192 = render(stream, "chaos", x, 64), render(stream, "chaos", x, 8192)
    p64, p8192 = render(plain, "chaos", x, 64), render(plain, "chaos", x, 8192)
    # equal up to float rounding in the conv kernels (about 3e-5), where the essay's version is not
    assert np.abs(s64 - s8192).max() < 1e-4
    assert np.abs(p64 - p8192).max() > 1e-2
    # and it is the essay's chaos over the whole signal in one piece, delayed by STREAM_DELAY
    whole = ChaosEffect(seed=0).chaos(torch.from_numpy(x))[0, 0].numpy()
    assert np.abs(s64[STREAM_DELAY:] - whole[:-STREAM_DELAY]).max() < 1e-4


def test_streaming_keeps_forward_and_topo_and_passes_validation(tmp_path):
    path = export(build("streaming_chaos_effect", seed=3), tmp_path / "s.ts")
    x = torch.from_numpy(signal_and_control(2048))
    ref = ChaosEffect(seed=3)
    m = torch.jit.load(str(path))
    assert torch.equal(m.topo(x), ref.topo(x))
    failures, warnings = validate(path)
    assert failures == [] and warnings == []


def test_streaming_state_restarts_on_new_batch_size():
    x = torch.from_numpy(signal_and_control(512))
    first = StreamingChaosEffect(seed=0).chaos(x)
    m = StreamingChaosEffect(seed=0)
    m.chaos(x)
    batched = m.chaos(x.repeat(4, 1, 1))  # mc.nn~ with 4 channels: a new batch size starts from silence
    for i in range(4):
        assert torch.allclose(batched[i : i + 1], first, atol=1e-4)  # float rounding of batched convs


def test_morph_ends_are_the_two_seeded_instruments():
    m = MorphChaosEffect(seed_a=0, seed_b=1)
    a, b = ChaosEffect(seed=0), ChaosEffect(seed=1)
    x = torch.from_numpy(signal_and_control(2048))
    zeros, ones, half = (torch.full((1, 1, 2048), v) for v in (0.0, 1.0, 0.5))
    for method, extra in [("chaos", []), ("topo", [])]:
        assert torch.equal(getattr(m, method)(torch.cat([x, zeros], 1)), getattr(a, method)(x))
        assert torch.equal(getattr(m, method)(torch.cat([x, ones], 1)), getattr(b, method)(x))
        mid = getattr(m, method)(torch.cat([x, half], 1))
        assert not torch.equal(mid, getattr(a, method)(x)) and not torch.equal(mid, getattr(b, method)(x))
    x3 = torch.cat([x, torch.full((1, 1, 2048), 2.0)], 1)  # forward: x, mod1, mod2 + morph
    assert torch.equal(m.forward(torch.cat([x3, ones], 1)), b.forward(x3))
    # morph beyond 0..1 is clamped; NaN is guarded
    assert torch.equal(m.chaos(torch.cat([x, ones * 7], 1)), b.chaos(x))
    assert torch.equal(m.topo(torch.cat([x, ones * 7], 1)), b.topo(x))
    assert torch.equal(m.forward(torch.cat([x3, -ones * 7], 1)), a.forward(x3))
    assert torch.isfinite(m.chaos(torch.cat([x, torch.full_like(ones, float("nan"))], 1))).all()


def test_morph_export_for_nn_tilde(tmp_path):
    path = export(build("morph_chaos_effect", seed_a=0, seed_b=5), tmp_path / "m.ts")
    e = open_export(path)
    assert e.method("chaos").in_channels == 3 and "morph" in e.method("chaos").input_labels[2]
    failures, _ = validate(path)
    assert failures == []
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["hyper_parameters"]["seed_b"] == 5


def test_hybrid_moves_toward_its_target_and_stays_a_chaos_effect(tmp_path):
    target = sox_noise(tmp_path / "target.wav", 3, kind="brownnoise")
    from chaos_models.hybrid import finetune

    model, report = finetune([target], steps=40, log_every=0)
    assert report["loss_after"] < report["loss_before"]
    untouched = ChaosEffect(seed=0)
    assert torch.equal(model.conv_chaos.weight, untouched.conv_chaos.weight), "only the topo path is trained"
    assert not torch.equal(model.conv.weight, untouched.conv.weight)
    paths = export_beyond(tmp_path / "exports", targets=[target], finetune_steps=10)
    hybrid = [p for p in paths if p.name.startswith("hybrid_")][0]
    manifest = json.loads(hybrid.with_suffix(".json").read_text())
    assert manifest["kind"] == "hybrid" and manifest["finetune"]["steps"] == 10
    assert list(open_export(hybrid).methods) == ["forward", "topo", "chaos"]


def test_the_hybrid_s_loss_is_the_mean_log_power_difference_and_its_report_is_measured_after(tmp_path):
    """Twice the amplitude is four times the power: log 4 in every bin of every FFT size. The manifest's loss
    after fine-tuning is the model's own loss at the recorded mod1 on the fine-tuning's probe, measured here."""
    from chaos_models.hybrid import TOPO_MOD1, average_log_spectra, finetune, load_targets, spectral_loss
    from spec.host import SR

    y = torch.rand(2, 8192, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert float(spectral_loss(y, average_log_spectra(y))) == 0.0
    assert float(spectral_loss(2 * y, average_log_spectra(y))) == pytest.approx(np.log(4), abs=1e-4)
    target = sox_noise(tmp_path / "target.wav", 2, kind="pinknoise")
    model, report = finetune([target], steps=5, seed=3)
    n, audio = SR // 2, load_targets([target])
    spectra = average_log_spectra(audio[: len(audio) // n * n].reshape(-1, n))
    probe = torch.empty(4, 2, n)
    probe[:, 0] = torch.rand(4, n, generator=torch.Generator().manual_seed(3)) * 2 - 1  # its first draw
    probe[:, 1] = TOPO_MOD1
    with torch.no_grad():
        assert report["loss_after"] == pytest.approx(float(spectral_loss(model.topo(probe)[:, 0], spectra)), rel=1e-5)
    assert report["mod1"] == TOPO_MOD1 == 4.0


def test_streaming_with_a_wider_kernel_is_a_clear_error(tmp_path):
    from helpers.cli import run_cli

    r = run_cli(
        "-m",
        "chaos_models",
        "export",
        "--model",
        "streaming_chaos_effect",
        "--kernel",
        "3",
        "--out",
        str(tmp_path / "s.ts"),
    )
    assert r.returncode == 2 and "need --kernel 1" in r.stderr and "Traceback" not in r.stderr
    assert not list(tmp_path.iterdir()), "nothing written"


def test_a_held_morph_mixes_the_weights_once_per_value_and_matches_per_sample_mixing():
    """While the morph control holds still, the layers with mixed weights run (as fast as one instrument);
    the result differs from mixing the two layers' outputs sample by sample by float rounding only."""
    torch.manual_seed(0)
    x, ctl = torch.rand(1, 1, 2048) * 2 - 1, torch.full((1, 1, 2048), 10.0)
    played = torch.jit.script(MorphChaosEffect(seed_a=0, seed_b=1))
    for v in (0.3, 0.7, 0.3):  # the value changes between blocks: the mixed weights follow it
        m = torch.full((1, 1, 2048), v)
        held = played.chaos(torch.cat([x, ctl, m], 1))
        assert torch.equal(
            held, torch.jit.script(MorphChaosEffect(seed_a=0, seed_b=1)).chaos(torch.cat([x, ctl, m], 1))
        )
        moving = m.clone()
        moving[..., -1] = v + 1e-7  # not held: every layer of both weight sets, mixed per sample
        per_sample = played.chaos(torch.cat([x, ctl, moving], 1))
        diff = (held - per_sample)[..., :-4].abs().max().item()  # conv_chaos reaches 2 + 2 samples back
        assert 0 < diff < 5e-6, diff  # measured 1.1e-6 to 2.1e-6 (-100 dB of the peak)
