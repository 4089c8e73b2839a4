"""chaos_models: the essay's instruments, bit for bit, safe for hosts, exported for nn~."""

import json
import math
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos_models import essay
from chaos_models.export import build, export, export_essay
from chaos_models.models import ChaosEffect, ModelSynth
from helpers.cli import run_cli
from spec import names
from spec.instruments import ESSAY_EXPORTS

METHODS = [(ChaosEffect, m, len(i)) for m, i in ChaosEffect.METHODS.items()] + [(ModelSynth, "forward", 3)]


def playable(c: int, t: int, b: int = 1, seed: int = 0) -> torch.Tensor:
    """Audio in [-1, 1] on inlet 0, positive controls in their documented ranges on the others."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, c, t, generator=g) * 2 - 1
    x[:, 1:] = 1 + x[:, 1:].abs() * 17
    return x


@pytest.mark.parametrize("cls,method,c", METHODS)
@pytest.mark.parametrize("b", [1, 4])
@pytest.mark.parametrize("t", [1, 64, 2048, 8192])
def test_shapes_and_dtype(cls, method, c, b, t):
    y = getattr(cls(seed=0), method)(playable(c, t, b))
    assert y.shape == (b, 1, t) and y.dtype == torch.float32


@pytest.mark.parametrize("seed", [0, 1, 1234])
def test_chaos_effect_equals_essay_class_bit_for_bit(seed):
    ours = ChaosEffect(operators=14, w_mult=2, seed=seed)
    torch.manual_seed(seed)
    ref = essay.ChaosEffect(operators=14, w_mult=2)
    for name, p in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[name], p), name
    for method, inlets in ChaosEffect.METHODS.items():
        x = playable(len(inlets), 2048, seed=seed)
        assert torch.equal(getattr(ours, method)(x), getattr(ref, method)(x).unsqueeze(1)), method


@pytest.mark.parametrize("ops,w", [(7, 1), (3, 2.5)])
def test_model_synth_equals_essay_class_at_batch_1(ops, w):
    ours = ModelSynth(operators=ops, w_mult=w, seed=7)
    torch.manual_seed(7)
    ref = essay.ModelSynth(operators=ops, w_mult=w)
    x = playable(3, 1024)
    assert torch.equal(ours(x), ref(x).unsqueeze(0))


def test_model_synth_is_batch_safe():
    m, x = ModelSynth(seed=0), playable(3, 256, b=4)
    y = m(x)
    for b in range(4):
        assert torch.equal(y[b : b + 1], m(x[b : b + 1]))


def test_seed_does_not_touch_global_rng():
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    ChaosEffect(seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_different_seeds_sound_different_and_same_seed_identical():
    x = playable(2, 512)
    assert torch.equal(ChaosEffect(seed=3).chaos(x), ChaosEffect(seed=3).chaos(x))
    assert not torch.equal(ChaosEffect(seed=3).chaos(x), ChaosEffect(seed=4).chaos(x))


def test_kernel_above_one_keeps_block_length():
    for k in (2, 3, 5):
        for cls, method, c in METHODS:
            assert getattr(cls(kernel=k, seed=0), method)(playable(c, 64)).shape == (1, 1, 64)


HOSTILE = [float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 3.4e38, 1e-30, 0.0, 1.0, 118.0, -118.0]


@pytest.mark.parametrize("cls,method,c", METHODS)
@pytest.mark.parametrize("w_mult", [2, 64])
def test_hostile_inputs_give_finite_output(cls, method, c, w_mult):
    m = cls(w_mult=w_mult, seed=0)
    for v in HOSTILE:
        for inlet in range(c):
            x = playable(c, 64)
            x[:, inlet, 10:20] = v  # a burst of bad samples inside a normal block
            assert torch.isfinite(getattr(m, method)(x)).all(), (v, inlet)
            x = torch.full((1, c, 64), v)  # and a whole block of it, DC included
            assert torch.isfinite(getattr(m, method)(x)).all(), (v, inlet)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=2 * 16, max_size=2 * 16))
def test_any_float_block_gives_finite_chaos(values):
    x = torch.tensor(values, dtype=torch.float32).view(1, 2, 16)
    assert torch.isfinite(ChaosEffect(seed=0).chaos(x)).all()


@pytest.mark.parametrize("cls,method,c", METHODS)
def test_a_bad_sample_plays_as_the_guard_says(cls, method, c):
    """NaN from the host plays exactly as silence, +-inf exactly as +-INPUT_LIMIT, on every inlet, and the
    finite samples around them exactly as they would anyway."""
    from chaos_models.models import INPUT_LIMIT

    m = cls(seed=0)
    for inlet in range(c):
        x = playable(c, 256)
        x[:, inlet, 100], x[:, inlet, 150], x[:, inlet, 200] = float("nan"), float("inf"), -float("inf")
        same = x.clone()
        same[:, inlet, 100], same[:, inlet, 150], same[:, inlet, 200] = 0.0, INPUT_LIMIT, -INPUT_LIMIT
        assert torch.equal(getattr(m, method)(x), getattr(m, method)(same)), (method, inlet)


def test_nan_does_not_spread_through_the_kernel5_conv():
    m, x = ChaosEffect(seed=0), playable(2, 256)
    clean = m.chaos(x)
    x[:, 0, 100] = float("nan")
    dirty = m.chaos(x)
    # conv_chaos (kernel 5, applied twice) reaches 4 samples each side; nothing else may change
    assert torch.equal(clean[..., :96], dirty[..., :96]) and torch.equal(clean[..., 105:], dirty[..., 105:])


def test_silent_input_sound_is_buffer_edges_not_bias_oscillation():
    """The essay says chaos sounds from silence through the conv biases. Measured: the biases give a
    constant (DC) inside each block; the only AC is the zero padding of conv_chaos at the block's
    edges, repeated every buffer. The streaming variant, which carries its edges across blocks, is
    silent (AC below -100 dBFS) from silence."""
    from chaos_models.beyond import StreamingChaosEffect

    x = torch.zeros(1, 2, 2048)
    x[:, 1] = 20.0
    y = ChaosEffect(seed=0).chaos(x)[0, 0]
    interior = y[4:-4]
    assert float(interior.std()) < 1e-6 and abs(float(interior.mean())) > 0.05, "a constant inside the block"
    assert float((y[:4] - interior.mean()).abs().max()) > 0.05 and float((y[-4:] - interior.mean()).abs().max()) > 0.05
    stream = StreamingChaosEffect(seed=0)
    ys = torch.cat([stream.chaos(x)[0, 0] for _ in range(8)])[2048:]  # past the first block's start-up
    assert 20 * math.log10(float(ys.std()) + 1e-30) < -100


def test_guard_is_transparent_for_ordinary_input():
    m, x = ChaosEffect(seed=0), playable(2, 512)
    torch.manual_seed(0)
    ref = essay.ChaosEffect(14, 2)
    ref.load_state_dict(m.state_dict(), strict=False)
    assert torch.equal(m.chaos(x * 50), ref.chaos(x * 50).unsqueeze(1))


def test_nn_tilde_metadata(tmp_path):
    path = export(build("chaos_effect", seed=0), tmp_path / "c.ts")
    ts = torch.jit.load(str(path))
    assert list(ts.get_methods()) == ["forward", "topo", "chaos"]
    assert ts.forward_params.tolist() == [3, 1, 1, 1]
    assert ts.topo_params.tolist() == [2, 1, 1, 1] and ts.chaos_params.tolist() == [2, 1, 1, 1]
    labels = list(ts.chaos_input_labels)
    assert "x" in labels[0] and "control" in labels[1] and "1 to 38" in labels[1]
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["seed"] == 0 and manifest["hyper_parameters"]["operators"] == 14
    assert manifest["methods"]["forward"]["params"] == [3, 1, 1, 1]
    import hashlib

    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_saved_export_reloads_in_fresh_process_with_identical_output(tmp_path):
    path = export(build("chaos_effect", operators=5, w_mult=4, seed=2), tmp_path / "c.ts")
    x = playable(2, 2048)
    torch.save(x, tmp_path / "x.pt")
    code = (
        "import torch,sys; m=torch.jit.load(sys.argv[1]); x=torch.load(sys.argv[2]);torch.save(m.chaos(x), sys.argv[3])"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "x.pt"), str(tmp_path / "y.pt")], check=True)
    assert torch.equal(torch.load(tmp_path / "y.pt"), ChaosEffect(operators=5, w_mult=4, seed=2).chaos(x))


def test_export_essay_writes_all_instruments_of_the_seed_asked_for(tmp_path):
    from spec.instruments import CHAOS_EFFECT_METHODS, MODEL_SYNTH_METHODS

    paths = export_essay(tmp_path, seed=3)
    assert [p.name for p in paths] == [
        names.hand_written(m, hp["operators"], hp["w_mult"], seed=3) for m, hp in ESSAY_EXPORTS
    ]
    assert not list(tmp_path.glob(".*partial*"))
    for path, (model, hp) in zip(paths, ESSAY_EXPORTS):
        manifest = json.loads(path.with_suffix(".json").read_text())
        inlets = CHAOS_EFFECT_METHODS if model == "chaos_effect" else MODEL_SYNTH_METHODS
        assert manifest["seed"] == 3 and manifest["hyper_parameters"] == {
            **manifest["hyper_parameters"],
            **hp,
            "seed": 3,
        }
        assert {m: t["inputs"] for m, t in manifest["methods"].items()} == {
            m: [i.label for i in ins] for m, ins in inlets.items()
        }, "the labels nn~ shows, from the inlets' names, meanings and ranges"
        x = playable(3, 64)
        ref = (ChaosEffect if model == "chaos_effect" else ModelSynth)(seed=3, **hp)
        assert torch.equal(torch.jit.load(str(path)).forward(x), ref.forward(x))


def test_export_beyond_builds_each_instrument_of_the_seed_asked_for(tmp_path):
    from chaos_models.export import export_beyond

    hps = {
        p.name.split("_ops")[0]: json.loads(p.with_suffix(".json").read_text()) for p in export_beyond(tmp_path, seed=2)
    }
    assert [hps[k]["seed"] for k in ("streaming_chaos_effect", "live_chaos_effect", "live_model_synth")] == [2, 2, 2]
    morph = hps["morph_chaos_effect"]["hyper_parameters"]
    assert (morph["seed_a"], morph["seed_b"]) == (2, 3), "it morphs between two different networks"


def test_cli_export_and_bad_arguments(tmp_path):
    out = tmp_path / "my synth ü.ts"  # spaces and non-ASCII in the path
    r = run_cli("-m", "chaos_models", "export", "--model", "model_synth", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert torch.equal(torch.jit.load(str(out)).forward(playable(3, 64)), ModelSynth(seed=3)(playable(3, 64)))
    r = run_cli("-m", "chaos_models", "export", "--out", str(tmp_path / "x.onnx"))
    assert r.returncode == 2 and "must end in .ts" in r.stderr and "Traceback" not in r.stderr


def test_inlet_ranges_travel_inside_the_export_typed_and_as_labels(tmp_path):
    """Each method's inlets are data in the .ts (name, unit, min, max, nominal) and in the manifest; the
    label is generated from them; audition reads the data back, and the label only for foreign exports."""
    import json

    from audition.model_file import open_export, typed_inlets
    from chaos_models.beyond import MorphChaosEffect
    from chaos_models.export import export
    from spec.inlets import label_range, nominal

    for model in (ChaosEffect(seed=0), ModelSynth(seed=0), MorphChaosEffect()):
        path = export(model, tmp_path / f"{type(model).__name__}.ts")
        e, manifest = open_export(path), json.loads(path.with_suffix(".json").read_text())
        for method, inlets in model.METHODS.items():
            read = e.method(method).inlets
            assert [(i.name, i.unit, i.low, i.high, i.nominal) for i in read] == [
                (i.name, i.unit, i.low, i.high, nominal(i.low, i.high)) for i in inlets
            ]
            assert manifest["methods"][method]["inlets"] == [i.as_dict() for i in inlets]
            assert [label_range(label) for label in e.method(method).input_labels] == [(i.low, i.high) for i in inlets]
            assert all(i.low < i.high for i in inlets)
            # a foreign export without the typed data: the labels still give the same ranges and nominals
            foreign = typed_inlets(object(), method, e.method(method).input_labels)
            assert [(i.low, i.high, i.nominal) for i in foreign] == [(i.low, i.high, i.nominal) for i in read]


def test_bench_chaos_times_every_instrument_against_the_essay_class_on_the_same_input(monkeypatch):
    """A smoke run of make bench-chaos (3 pairs, buffer 64): every row is there and its figures are times."""
    from compare import bench_chaos

    monkeypatch.setattr(bench_chaos, "PAIRS", 3)
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):  # it seeds torch's global generator, as the benchmark runs
            rows = list(bench_chaos.rows(buffers=[64]))  # and sets 1 thread
    finally:
        torch.set_num_threads(threads)
    assert [(r[0], r[1]) for r in rows] == [
        ("ChaosEffect", "forward"),
        ("ChaosEffect", "topo"),
        ("ChaosEffect", "chaos"),
        ("ModelSynth", "forward"),
        ("StreamingChaosEffect", "chaos"),
        ("MorphChaosEffect", "chaos"),
    ]
    for _, _, n, rtf, rtf_ref, p in rows:
        assert n == 64 and rtf > 0 and rtf_ref > 0 and p["pairs"] == 3 and p["q1"] <= p["median"] <= p["q3"]
