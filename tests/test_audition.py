"""audition: an nn~-faithful host, tested with small models built here and with the chaos exports."""

import json

import nn_tilde
import numpy as np
import pytest
import soundfile as sf
import torch

from audition.host import Host
from audition.model_file import open_export
from audition.validate import validate
from chaos_models.export import build, export
from helpers.cli import run_cli
from safeio import UserError
from spec.host import SR, latency


class Gain(torch.nn.Module):
    """Found through its `forward_params` buffer only (no get_methods), like the essay's export."""

    def __init__(self):
        super().__init__()
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

    def forward(self, x):
        return 2 * x


class Codec(nn_tilde.Module):
    """Found through get_methods(); encode/decode at ratio 4, like RAVE's (at 512 or 2048)."""

    def __init__(self):
        super().__init__()
        self.register_method("encode", 1, 1, 2, 4, test_method=False)
        self.register_method("decode", 2, 4, 1, 1, test_method=False)
        self.register_method("forward", 1, 1, 1, 1, test_method=False)

    @torch.jit.export
    def encode(self, x):
        frames = x.reshape(x.shape[0], 1, -1, 4)
        return torch.cat([frames[..., -1], frames.mean(-1)], 1)

    @torch.jit.export
    def decode(self, z):
        return z[:, :1].repeat_interleave(4, -1)

    def forward(self, x):
        return x


class Stateful(torch.nn.Module):
    """A running sum carried across buffers, like a streaming model's cache."""

    def __init__(self):
        super().__init__()
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.register_buffer("acc", torch.zeros(1))

    def forward(self, x):
        y = torch.cumsum(x, -1) + self.acc
        self.acc.copy_(y[0, 0, -1:])
        return y


class WrongLength(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

    def forward(self, x):
        return x[..., :-1]


class Counting(torch.nn.Module):
    """A 1-in/1-out model that counts its calls (a buffer), for behaviour that changes over time."""

    def __init__(self):
        super().__init__()
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.register_buffer("calls", torch.zeros(1))


class GoodThenShort(Counting):
    """Right length on odd calls, one sample short on even ones."""

    def forward(self, x):
        self.calls += 1
        return x[..., :-1] if int(self.calls.item()) % 2 == 0 else x


class NaNAfter(Counting):
    """Finite for the first buffer, NaN from then on (a poisoned cache)."""

    def forward(self, x):
        self.calls += 1
        return x * 3.0 if int(self.calls.item()) == 1 else x * float("nan")


def save(module, path):
    torch.jit.script(module).save(str(path))
    return path


def test_latency_by_host_profile():
    assert (
        latency(2048) == 4032 and latency(512) == 960 and latency(4096) == 8128
    )  # nn~'s threaded mode at Pd's 64-sample block: 2N - 64
    assert latency(2048, "nn.ar") == 4032 and latency(2048, "nn.ar-nrt") == 1984 and latency(2048, "unthreaded") == 2048


def test_nn_tilde_without_bufsize_plays_a_one_in_one_out_model_4096_minus_n_later(tmp_path):
    """Measured in the real nn~ (test_real_hosts): no [bufsize N( sent, RAVE's forward comes N + 4032 late."""
    gain = open_export(save(Gain(), tmp_path / "gain.ts"))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 10000)).astype(np.float32)
    for n, late in ((512, 4544), (2048, 6080), (4096, 8128)):
        host = Host(gain, "forward", n, "nn~-unsized")
        y = host.play(x)[0, 0]
        assert host.latency == late and not y[:late].any() and np.array_equal(y[late:], 2 * x[0, : 10000 - late])
    with pytest.raises(UserError, match=r"nn~ without \[bufsize 8192\( keeps 4096-sample buffers .* corrupts memory"):
        Host(gain, "forward", 8192, "nn~-unsized")
    chaos = open_export(export(build("chaos_effect", seed=0), tmp_path / "c.ts"))
    assert Host(chaos, "chaos", 512, "nn~-unsized").latency == 960, "two inlets: [bufsize( does not matter"


def test_params_only_discovery_and_host_latency(tmp_path):
    e = open_export(save(Gain(), tmp_path / "gain.ts"))
    assert e.discovery == "<method>_params buffers" and list(e.methods) == ["forward"]
    x = np.random.default_rng(0).uniform(-1, 1, (1, 10000)).astype(np.float32)
    host = Host(e, "forward", 512)
    y = host.play(x)
    assert y.shape == (1, 1, 10000)
    np.testing.assert_array_equal(y[0, 0, 960:], 2 * x[0, : 10000 - 960])
    assert not y[0, 0, :960].any()


def test_ratios_decimate_keeping_last_sample_and_repeat(tmp_path):
    e = open_export(save(Codec(), tmp_path / "codec.ts"))
    assert e.discovery == "get_methods()"
    assert (e.method("encode").out_ratio, e.method("decode").in_ratio) == (4, 4)
    x = np.arange(64, dtype=np.float32)[None]
    z = Host(e, "encode", 16).run(x)  # [1, 2, 64]: latent at signal rate, each value held 4 samples
    assert z.shape == (1, 2, 64)
    np.testing.assert_array_equal(z[0, 0, :8], [3, 3, 3, 3, 7, 7, 7, 7])
    y = Host(e, "decode", 16).run(z[0])
    # decode sees z decimated by 4 keeping the last sample of each group, then repeats it 4 times
    np.testing.assert_array_equal(y[0, 0], np.repeat(x[0, 3::4], 4))


def test_state_carries_across_buffers(tmp_path):
    x = np.random.default_rng(1).uniform(-1, 1, (1, 4096)).astype(np.float32)
    y = Host(open_export(save(Stateful(), tmp_path / "s.ts")), "forward", 256).run(x)
    np.testing.assert_allclose(y[0, 0], np.cumsum(x[0]), rtol=1e-4, atol=1e-3)


def test_wrong_length_replays_the_previous_block_and_fails_validation(tmp_path, capsys):
    path = save(GoodThenShort(), tmp_path / "bad.ts")
    x = np.arange(1, 1025, dtype=np.float32)[None]
    y = Host(open_export(path), "forward", 256).run(x)[0, 0]
    np.testing.assert_array_equal(y, np.concatenate([x[0, :256], x[0, :256], x[0, 512:768], x[0, 512:768]]))
    assert "nn~: model output size is not consistent, expected 256 samples, got 255!" in capsys.readouterr().err
    assert not Host(open_export(save(WrongLength(), tmp_path / "w.ts")), "forward", 256).run(x).any(), (
        "nothing played yet: the replayed block is silence"
    )
    failures, _ = validate(tmp_path / "w.ts")
    assert any("nn~ needs (1, 1, 64) float32 (the host replays the previous block)" in f for f in failures)


def test_buffers_are_rounded_up_and_raised_to_the_largest_ratio(tmp_path, capsys):
    e = open_export(save(Codec(), tmp_path / "codec.ts"))
    assert Host(e, "encode", 2).buffer == 4 and "nn~: buffer size too small, switching to 4" in capsys.readouterr().err
    assert Host(e, "forward", 100).buffer == 128  # the next power of two
    assert Host(e, "forward", 2, "nn.ar").buffer == 4, "forward's ratio is 1, encode's 4: all methods count"
    assert "NNUGen: buffer size to small, switching to 4." in capsys.readouterr().err  # nn.ar's own words
    assert Host(e, "forward", 100, "nn.ar-nrt").buffer == 128
    assert "NNUGen: rounding buffer size 128." in capsys.readouterr().err, "nn.ar says it rounds; nn~ does not"
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64)).astype(np.float32)
    np.testing.assert_array_equal(Host(e, "forward", 1).run(x), x[None])
    r = run_cli("-m", "audition", "info", tmp_path / "codec.ts")
    assert "host buffer (asked -> played, the same for every method): 64 -> 64, 256 -> 256, 1000 -> 1024" in r.stdout


def test_unknown_method_plays_forward_unless_strict(tmp_path, capsys):
    e = open_export(save(Codec(), tmp_path / "codec.ts"))
    host = Host(e, "choas", 16)
    assert host.spec.name == "forward"
    assert "nn~: method choas not found in model, using forward instead" in capsys.readouterr().err
    with pytest.raises(Exception, match="has no method 'choas'"):
        Host(e, "choas", 16, strict=True)
    with pytest.raises(UserError, match="NNModel: method 'choas' not found in codec.ts: nn.ar refuses it"):
        Host(e, "choas", 16, "nn.ar")


def test_nn_ar_starts_late_while_the_model_loads(tmp_path):
    path = export(build("chaos_effect", seed=0), tmp_path / "c.ts")
    x = np.stack([np.random.default_rng(3).uniform(-1, 1, 8192), np.full(8192, 20.0)]).astype(np.float32)
    late = Host(open_export(path), "chaos", 512, "nn.ar", load_delay=700).run(x)[0, 0]
    on_time = Host(open_export(path), "chaos", 512, "nn.ar").run(x[:, 700:])[0, 0]
    assert not late[:700].any()
    np.testing.assert_array_equal(late[700 : 700 + len(on_time)], on_time)
    at_zero = Host(open_export(path), "chaos", 512, "nn.ar").run(x)[0, 0]
    assert np.abs(late[700:8192] - at_zero[700:8192]).max() > 1e-3, "chaos depends on where the buffers fall"


def test_render_reports_and_refuses_non_finite_output(tmp_path):
    path = save(NaNAfter(), tmp_path / "nan.ts")
    r = run_cli(
        "-m",
        "audition",
        "render",
        path,
        "--in",
        "saw:110",
        "--seconds",
        "0.2",
        "--buffer",
        "2048",
        "--align",
        "--out",
        tmp_path / "n.wav",
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "the model produced 6772 NaN/inf sample(s) and 711 sample(s) above 0 dBFS (peak +3.5 dBFS)" in r.stderr
    assert "1 render(s) hold NaN/inf samples" in r.stderr and "--allow-nonfinite" in r.stderr
    r = run_cli(
        "-m",
        "audition",
        "render",
        path,
        "--in",
        "saw:110:1",
        "--seconds",
        "0.2",
        "--buffer",
        "2048",
        "--align",
        "--allow-nonfinite",
        "--out",
        tmp_path / "n.wav",
    )
    assert r.returncode == 0 and "sample(s) above 0 dBFS (peak +9.5 dBFS)" in r.stderr, r.stderr


def test_chaos_export_through_host_equals_direct_calls(tmp_path):
    path = export(build("chaos_effect", seed=0), tmp_path / "c.ts")
    x = np.stack([np.random.default_rng(2).uniform(-1, 1, 8192), np.full(8192, 20.0)]).astype(np.float32)
    y = Host(open_export(path), "chaos", 2048).run(x)
    m = build("chaos_effect", seed=0)
    direct = torch.cat([m.chaos(torch.from_numpy(x[None, :, k : k + 2048])) for k in range(0, 8192, 2048)], -1)
    np.testing.assert_array_equal(y, direct.numpy())


def test_validate_passes_chaos_exports(tmp_path):
    for model, kw in [("chaos_effect", {}), ("model_synth", {})]:
        failures, warnings = validate(export(build(model, seed=0, **kw), tmp_path / f"{model}.ts"))
        assert failures == [] and warnings == []


def test_bad_files_get_one_sentence(tmp_path):
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"\x00not a model" * 100)
    r = run_cli("-m", "audition", "info", str(junk))
    assert r.returncode == 2 and "not a TorchScript file" in r.stderr and "Traceback" not in r.stderr
    pickled = tmp_path / "pickled.ts"
    torch.save(torch.nn.Linear(2, 2), pickled)  # a zip, but eager pickle: must not be unpickled
    r = run_cli("-m", "audition", "info", str(pickled))
    assert r.returncode == 2 and "torch.jit.load cannot open it" in r.stderr
    nomethod = tmp_path / "nomethod.ts"
    torch.jit.script(torch.nn.Identity()).save(str(nomethod))
    r = run_cli("-m", "audition", "info", str(nomethod))
    assert r.returncode == 2 and "no method nn~ can use" in r.stderr
    r = run_cli("-m", "audition", "info", str(tmp_path / "missing.ts"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_render_cli(tmp_path):
    path = export(build("chaos_effect", seed=0), tmp_path / "c.ts")
    out = tmp_path / "r.wav"
    r = run_cli(
        "-m",
        "audition",
        "render",
        str(path),
        "--method",
        "chaos",
        "--in",
        "saw:110",
        "--in",
        "lfo:0.5:1:38",
        "--seconds",
        "1",
        "--buffer",
        "512",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    y, sr = sf.read(out)
    assert sr == SR and len(y) == SR and np.isfinite(y).all() and np.abs(y[960:]).max() > 0
    assert not y[:960].any(), "the first 2N-64 samples are the host's latency"

    r = run_cli(
        "-m",
        "audition",
        "render",
        str(path),
        "--method",
        "topo",
        "--in",
        "saw:55",
        "--in",
        "const:1",
        "--grid",
        "mod1=1:18:3",
        "--seconds",
        "0.5",
        "--out",
        str(tmp_path / "g.wav"),
    )
    assert r.returncode == 0 and len(list(tmp_path.glob("g_in2=*.wav"))) == 3

    r = run_cli("-m", "audition", "render", str(path), "--method", "chaos", "--in", "saw:110")
    assert r.returncode == 2 and "has 2 inlet(s)" in r.stderr and "but 1 --in source(s)" in r.stderr
    r = run_cli(
        "-m",
        "audition",
        "render",
        str(path),
        "--method",
        "choas",
        "--in",
        "saw",
        "--in",
        "const:3",
        "--in",
        "const:1",
        "--seconds",
        "0.1",
        "--out",
        str(tmp_path / "f.wav"),
    )
    assert r.returncode == 0 and "nn~: method choas not found in model, using forward instead" in r.stderr
    r = run_cli("-m", "audition", "render", str(path), "--method", "choas", "--in", "saw", "--strict")
    assert r.returncode == 2 and "has no method 'choas'" in r.stderr
    wav48 = tmp_path / "48k.wav"
    sf.write(wav48, np.zeros(4800, np.float32), 48000)
    r = run_cli("-m", "audition", "render", str(path), "--method", "chaos", "--in", str(wav48), "--in", "const:3")
    assert r.returncode == 2 and f"is at 48000 Hz but the host runs at {SR} Hz" in r.stderr
    r = run_cli("-m", "audition", "render", str(path), "--method", "chaos", "--in", "wobble:3", "--in", "const:3")
    assert r.returncode == 2 and "unknown source 'wobble:3'" in r.stderr


def test_validate_and_bench_cli(tmp_path):
    export(build("model_synth", seed=0), tmp_path / "m.ts")
    save(WrongLength(), tmp_path / "bad.ts")
    r = run_cli("-m", "audition", "validate", str(tmp_path))
    assert r.returncode == 1
    fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL: bad.ts")]
    assert len(fails) == 8, "one line per failing buffer size, 64 ... 8192"
    assert "ok  : " + str(tmp_path / "m.ts") in r.stdout
    (tmp_path / "bad.ts").unlink()
    r = run_cli("-m", "audition", "bench", str(tmp_path), "--buffers", "64", "2048", "--json", str(tmp_path / "b.json"))
    assert r.returncode == 0, r.stderr
    rows = json.loads((tmp_path / "b.json").read_text())
    assert {(row["method"], row["buffer"]) for row in rows} == {("forward", 64), ("forward", 2048)}
    assert all(row["rtf"] > 0 and row["latency_samples"] >= latency(row["buffer"]) - 4 for row in rows)


def test_bench_worst_case_gives_the_block_time_distribution_and_the_safe_buffer(tmp_path):
    export(build("model_synth", seed=0), tmp_path / "m.ts")
    r = run_cli(
        "-m",
        "audition",
        "bench",
        str(tmp_path),
        "--worst-case",
        "--buffers",
        "64",
        "512",
        "--blocks",
        "300",
        "--json",
        str(tmp_path / "b.json"),
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads((tmp_path / "b.json").read_text())
    for row in rows:
        assert row["blocks"] == 300 and row["deadline_ms"] == 1000 * row["buffer"] / SR
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["p999_ms"] <= row["max_ms"]
        assert row["safe"] == (row["p999_ms"] < row["deadline_ms"] / 2)
    safe = [row["buffer"] for row in rows if row["safe"]]
    assert f"m.ts:forward: {min(safe) if safe else 'none of those measured'}" in r.stdout
    assert "p99.9" in r.stdout and "deadline" in r.stdout


def test_the_safe_buffer_is_the_smallest_whose_p999_is_under_half_the_deadline():
    from audition.bench import safe_buffers

    rows = [
        {"model": "a.ts", "method": "chaos", "buffer": n, "safe": ok}
        for n, ok in ((64, False), (128, True), (256, False), (512, True))
    ]
    rows += [{"model": "b.ts", "method": "forward", "buffer": 2048, "safe": False}]
    assert safe_buffers(rows) == {"a.ts:chaos": 128, "b.ts:forward": None}


def test_validate_warns_when_one_nan_poisons_every_later_block(tmp_path):
    _, warnings = validate(save(Stateful(), tmp_path / "s.ts"))  # a running sum keeps a NaN forever
    assert any("s.ts:forward: one NaN sample poisons every later block" in w for w in warnings)
    _, warnings = validate(save(Gain(), tmp_path / "g.ts"))  # no state: only that block is hit
    assert not any("poisons" in w for w in warnings) and any("nan input reaches the output" in w for w in warnings)


def test_nn_ar_plays_silence_below_its_block(tmp_path, capsys):
    """nn.ar disables a UGen whose buffer is smaller than the server's block (64); nn~ plays it."""
    path = export(build("chaos_effect", seed=0), tmp_path / "c.ts")
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1024)).astype(np.float32)
    assert not Host(open_export(path), "forward", 32, "nn.ar-nrt").play(x).any()
    assert "NNUGen: blockSize(64) larger than model bufferSize(32), disabling" in capsys.readouterr().err
    assert Host(open_export(path), "forward", 32, "nn~").play(x).any()


def test_generated_sources_follow_their_definitions():
    """A ramp from LOW to HIGH over the render, a constant, an LFO between its ends: values known by definition."""
    from audition import sources

    ramp = sources.make("ramp:2:10", 1.0, 1000)
    assert ramp[0] == pytest.approx(2.0) and ramp[-1] == pytest.approx(10.0, abs=0.01)
    assert ramp[500] == pytest.approx(6.0, abs=0.01)
    assert np.all(sources.make("const:0.25", 0.5, 1000) == np.float32(0.25))
    lfo = sources.make("lfo:1:3:5", 1.0, 1000)
    assert lfo.min() == pytest.approx(3.0, abs=1e-3) and lfo.max() == pytest.approx(5.0, abs=1e-3)
