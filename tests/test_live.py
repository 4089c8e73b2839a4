"""LiveChaosEffect: seed, w_mult and glide as host attributes, bit-exact to the essay's instruments."""

import json

import numpy as np
import pytest
import torch

from audition.host import Host
from audition.model_file import open_export
from chaos_models.export import build, export
from chaos_models.live import LiveChaosEffect, LiveModelSynth
from chaos_models.models import ChaosEffect, ModelSynth
from spec.host import SR
from spec.instruments import W_MULT_RANGE


def essay_instrument(seed: int, w_mult: float) -> ChaosEffect:
    """The essay's way: torch.manual_seed(seed), then ChaosEffect(14, w_mult)."""
    torch.manual_seed(seed)
    return ChaosEffect(14, w_mult)


def block(inlets: int, controls=(5.0, 2.0), n: int = 512, seed: int = 0) -> torch.Tensor:
    x = torch.rand(1, inlets, n, generator=torch.Generator().manual_seed(seed)) - 0.5
    for i, c in enumerate(controls[: inlets - 1], 1):
        x[:, i] = c
    return x


@pytest.fixture(scope="module")
def live():
    return torch.jit.script(LiveChaosEffect())


@pytest.mark.parametrize("seed", [0, 1, 7, 42, -1, -123456, 2**31 - 1, 2**40, 2**63 - 1])
def test_setting_seed_rebuilds_the_essays_instrument_bit_for_bit(live, seed):
    live.set_seed(seed)
    live.set_w_mult(2.0)
    ref = essay_instrument(seed, 2)
    assert live.get_seed() == seed
    assert torch.equal(live.forward(block(3)), ref.forward(block(3)))
    assert torch.equal(live.topo(block(2)), ref.topo(block(2)))
    assert torch.equal(live.chaos(block(2, (12.0,))), ref.chaos(block(2, (12.0,))))


@pytest.mark.parametrize("w_mult", [1.0, 1.5, 3.0, 4.0])
def test_w_mult_rescales_as_construction_would_and_is_clamped(live, w_mult):
    live.set_seed(3)
    live.set_w_mult(w_mult)
    assert torch.equal(live.chaos(block(2, (12.0,))), essay_instrument(3, w_mult).chaos(block(2, (12.0,))))
    live.set_w_mult(100.0)
    assert live.get_w_mult() == W_MULT_RANGE[1]
    live.set_w_mult(0.01)
    assert live.get_w_mult() == W_MULT_RANGE[0]


def run(model, method, x, buffer, change_at=None, seed=None):
    out = []
    for k in range(0, x.shape[-1], buffer):
        if k == change_at:
            model.set_seed(seed)
        out.append(getattr(model, method)(x[..., k : k + buffer]))
    return torch.cat(out, -1)[0, 0]


@pytest.mark.parametrize(
    "method,buffer", [("topo", 64), ("topo", 2048), ("forward", 256), ("chaos", 64), ("chaos", 2048)]
)
def test_a_glide_changes_seed_without_a_click_and_lands_exactly(method, buffer):
    n, glide = SR, 0.05
    t = torch.arange(n) / SR
    inlets = 3 if method == "forward" else 2
    x = block(inlets, (10.0,) if method == "chaos" else (5.0, 2.0), n)
    x[0, 0] = 0.5 * torch.sin(2 * torch.pi * 110 * t)
    change = n // 4 // buffer * buffer
    y = run(torch.jit.script(LiveChaosEffect(seed=0, glide=glide)), method, x, buffer, change, 7)
    old, new = run(ChaosEffect(seed=0), method, x, buffer), run(ChaosEffect(seed=7), method, x, buffer)
    steps = int(glide * SR)
    after = change + -(-steps // buffer) * buffer  # the glide ends inside a block; the next one is the new set alone
    assert torch.equal(y[:change], old[:change]), "the change waits for the block"
    assert torch.equal(y[after:], new[after:]), "after the glide: the seed-7 instrument, bit for bit"
    jump = float(y[change - 1 : after + 1].diff().abs().max())
    assert jump <= max(float(old.diff().abs().max()), float(new.diff().abs().max())), "no click"
    abrupt = run(torch.jit.script(LiveChaosEffect(seed=0)), method, x, buffer, change, 7)
    assert torch.equal(abrupt[change:], new[change:]), "glide 0: the new instrument from the next block"


def test_live_export_loads_in_a_host_with_its_attributes(tmp_path):
    path = export(build("live_chaos_effect", seed=5, w_mult=2), tmp_path / "live.ts")
    e = open_export(path)
    assert list(e.methods) == ["forward", "topo", "chaos"]
    assert {"seed", "w_mult", "glide"} <= set(e.attributes())
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["seed"] == 5 and manifest["hyper_parameters"]["w_mult_range"] == list(W_MULT_RANGE)
    x = block(2, (12.0,), 4096).numpy()[0]
    y = Host(open_export(path), "chaos", 512).run(x)
    assert torch.equal(
        torch.from_numpy(y), run(ChaosEffect(seed=5), "chaos", torch.from_numpy(x)[None], 512)[None, None]
    )


def test_audition_sets_attributes_while_rendering(tmp_path):
    import soundfile as sf

    from helpers.cli import run_cli

    path = export(build("live_chaos_effect", seed=0), tmp_path / "live.ts")
    out = tmp_path / "r.wav"
    r = run_cli(
        "-m",
        "audition",
        "render",
        path,
        "--method",
        "chaos",
        "--in",
        "saw:110",
        "--in",
        "const:10",
        "--seconds",
        "1",
        "--buffer",
        "512",
        "--set",
        "seed=7@0.3",
        "--out",
        out,
    )
    assert r.returncode == 0, r.stderr
    y, _ = sf.read(out, dtype="float32")
    seven = export(build("chaos_effect", seed=7), tmp_path / "seven.ts")
    r = run_cli(
        "-m",
        "audition",
        "render",
        seven,
        "--method",
        "chaos",
        "--in",
        "saw:110",
        "--in",
        "const:10",
        "--seconds",
        "1",
        "--buffer",
        "512",
        "--out",
        tmp_path / "s.wav",
    )
    ref, _ = sf.read(tmp_path / "s.wav", dtype="float32")
    assert np.array_equal(y[22050:], ref[22050:]) and not np.array_equal(y[:8000], ref[:8000])
    r = run_cli(
        "-m",
        "audition",
        "render",
        path,
        "--method",
        "chaos",
        "--in",
        "saw",
        "--in",
        "const:10",
        "--seconds",
        "0.1",
        "--set",
        "sead=3@0",
        "--out",
        out,
    )
    assert r.returncode == 2 and "has no attribute 'sead'; its attributes: seed, w_mult, glide" in r.stderr


@pytest.mark.parametrize("seed", [0, 3, -7, 2**40])
def test_live_model_synth_is_the_essays_first_instrument_for_every_seed(seed):
    live = torch.jit.script(LiveModelSynth())
    for w_mult in (1.0, 2.5):
        live.set_seed(seed)
        live.set_w_mult(w_mult)
        torch.manual_seed(seed)
        ref = ModelSynth(7, w_mult)
        assert torch.equal(live.forward(block(3)), ref.forward(block(3)))


def test_live_model_synth_glides_without_a_click():
    n, buffer = 22050, 256
    x = block(3, (5.0, 2.0), n)
    x[0, 0] = 0.5 * torch.sin(2 * torch.pi * 110 * torch.arange(n) / SR)
    change = 5120
    y = run(torch.jit.script(LiveModelSynth(glide=0.05)), "forward", x, buffer, change, 9)
    old, new = run(ModelSynth(seed=0), "forward", x, buffer), run(ModelSynth(seed=9), "forward", x, buffer)
    after = change + -(-int(0.05 * SR) // buffer) * buffer
    assert torch.equal(y[:change], old[:change]) and torch.equal(y[after:], new[after:])
    assert float(y[change - 1 : after + 1].diff().abs().max()) <= max(
        float(old.diff().abs().max()), float(new.diff().abs().max())
    )
    # the crossfade itself, per sample: the k-th sample of the glide holds (k + 1) / steps of the new set, and
    # the glide's last sample is the new instrument alone
    steps = int(0.05 * SR)
    share = torch.clamp((torch.arange(after - change, dtype=torch.float32) + 1.0) / float(steps), 0.0, 1.0)
    expected = old[change:after] * (1.0 - share) + new[change:after] * share
    assert torch.equal(y[change:after], expected) and torch.equal(y[change + steps - 1], new[change + steps - 1])


@pytest.mark.parametrize(
    "host,buffer,first",
    [
        ("nn~", 64, 13184),
        ("nn~", 512, 13248),
        ("nn~", 2048, 14272),  # measured in pd -nrt (test_real_hosts)
        ("nn.ar-nrt", 64, 13184),
        ("nn.ar-nrt", 2048, 14272),  # measured in scsynth -N
        ("nn.ar", 512, 13760),
        ("unthreaded", 512, 13312),
    ],
)
def test_an_attribute_change_lands_on_one_sample(tmp_path, host, buffer, first):
    """[set seed 7( at 0.3 s (sample 13230): the first output sample that differs, latency included. nn~
    applies it to the buffer before the one holding that sample (its thread computes a buffer while the
    next fills) and plays 2N-64 late; nn.ar NRT to the buffer holding it, N-64 late."""
    path = export(build("live_chaos_effect", seed=0), tmp_path / "live.ts")
    x = np.stack([np.random.default_rng(0).uniform(-0.5, 0.5, SR), np.full(SR, 10.0)]).astype(np.float32)
    plain = Host(open_export(path), "chaos", buffer, host, quiet=True).play(x)[0, 0]
    moved = Host(open_export(path), "chaos", buffer, host, quiet=True).play(x, changes=[(13230, "seed", "7")])[0, 0]
    assert np.flatnonzero(moved != plain)[0] == first
