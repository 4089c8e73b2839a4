"""Neutone FX models (make export-neutone): saved with neutone-sdk's own checks, knobs from the typed ranges,
and a render through the saved .nm, called as the plugin calls it, equal to audition's render of the export.
(The trained exports' route is in tests/test_real_hosts.py, beside the trained fixture.)"""

import json

import numpy as np
import pytest
import soxr
import torch

from audition import neutone_save
from audition.host import Host
from audition.model_file import open_export
from audition.neutone_export import BUFFERS, fits, speed, wrapper
from chaos_models.export import build, export
from helpers.cli import run_make
from safeio import UserError
from spec.host import SR

MODELS = {  # export stem: the knobs planned for it
    "chaos": ["mod1", "mod2"],  # the essay's ChaosEffect: memoryless
    "streaming": ["mod1", "mod2"],  # a state carried across buffers: the buffer sizes matter
    "live": ["mod1", "mod2", "seed", "w_mult"],
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("neutone")
    export(build("chaos_effect", seed=0), folder / "chaos.ts")
    export(build("streaming_chaos_effect", seed=0), folder / "streaming.ts")
    export(build("live_chaos_effect", seed=0), folder / "live.ts")
    r = run_make("export-neutone", f"EXPORTS={folder}", timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return folder


def inputs(path, x: np.ndarray, knobs=None) -> np.ndarray:
    """The DAW's audio on inlet 1; the other inlets at their nominal value, or a knob's value."""
    m = open_export(path).methods["forward"]
    rows = [x] + [np.full_like(x, m.nominal(i)) for i in range(1, m.in_channels)]
    for i, value in (knobs or {}).items():
        rows[i] = np.full_like(x, value)
    return np.stack(rows)


def signal(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * 220 * t) * np.minimum(1, 4 * t)).astype(np.float32)


@pytest.mark.slow
def test_each_export_gets_a_checked_model_its_knobs_and_a_profile(saved):
    for stem, knobs in MODELS.items():
        out = saved / "neutone" / stem
        meta = json.loads((out / "metadata.json").read_text())
        params = [meta["neutone_parameters"][f"p{i + 1}"] for i in range(len(knobs))]
        assert [p["name"] for p in params] == knobs and len(meta["neutone_parameters"]) == len(knobs)
        assert meta["native_sample_rates"] == [SR] and meta["native_buffer_sizes"] == list(reversed(BUFFERS))
        assert (out / "model.nm").stat().st_size > 0 and len(list((out / "samples").glob("*.mp3"))) == 6
        table = [
            line for line in (out / "profile.md").read_text().splitlines() if line.startswith("| 4") and "|" in line
        ]
        assert len(table) == 12, "speed and delay at 44.1 and 48 kHz for the DAW buffers 64-2048"
    mod1 = json.loads((saved / "neutone/chaos/metadata.json").read_text())["neutone_parameters"]["p1"]
    assert (mod1["min_value"], mod1["max_value"], mod1["default_value"]) == (1.0, 18.0, 5.25)
    assert not list(saved.glob("neutone/.staging*")), "each model moved into place whole"


@pytest.mark.slow
@pytest.mark.parametrize("daw_buffer", [512, 100])
def test_a_model_sounds_like_audition_at_44100_sample_for_sample_after_its_delay(saved, daw_buffer):
    """neutone-sdk's host-side queues at a DAW buffer the model declares (no delay) and at one it does
    not (100 samples: the queue's delay). The streaming export's state makes the model buffer matter."""
    x = signal(1.0, SR)
    for stem in MODELS:
        y, delay, model_buffer = neutone_save.render(saved / "neutone" / stem / "model.nm", x, SR, daw_buffer)
        path = saved / f"{stem}.ts"
        ours = Host(open_export(path), "forward", model_buffer, "unthreaded", quiet=True).run(inputs(path, x))[0, 0]
        assert (delay > 0) == (daw_buffer == 100)
        assert np.array_equal(y[delay:], ours[: len(x) - delay]), stem


@pytest.mark.slow
def test_the_knobs_drive_the_inlets_and_the_live_attributes(saved):
    """mod2 at its knob's top is inlet 3 at 8; seed at 5/127 is seed 5; w_mult's knob at 1 is its top (4)."""
    x = signal(0.5, SR)
    path = saved / "live.ts"
    knobs = [0.25, 1.0, 5 / 127, 1.0]
    y, delay, n = neutone_save.render(saved / "neutone/live/model.nm", x, SR, 512, params=knobs)
    host = Host(open_export(path), "forward", n, "unthreaded", quiet=True)
    host.set_attribute("seed", 5)
    host.set_attribute("w_mult", 4.0)
    ours = host.run(inputs(path, x, {2: 8.0}))[0, 0]
    assert delay == 0 and np.array_equal(y, ours[: len(x)])
    other = Host(open_export(path), "forward", n, "unthreaded", quiet=True).run(inputs(path, x))[0, 0]
    assert not np.array_equal(y, other[: len(x)])


@pytest.mark.slow
def test_at_48000_the_wrapper_resamples_to_within_the_stated_tolerance(saved):
    """The plugin's own resampler (4-point Hermite) against soxr around audition at 44.1 kHz: a 220 Hz
    tone through the essay's ChaosEffect agrees to 20.9 dB signal-to-error (docs/neutone.md)."""
    x48 = signal(2.0, 48000)
    path = saved / "chaos.ts"
    y, delay, n = neutone_save.render(saved / "neutone/chaos/model.nm", x48, 48000, 512)
    x44 = soxr.resample(x48, 48000, SR).astype(np.float32)
    ref = soxr.resample(
        Host(open_export(path), "forward", n, "unthreaded", quiet=True).run(inputs(path, x44))[0, 0], SR, 48000
    )
    a, b = y[delay:][4800:-4800], ref[: len(x48) - delay][4800:-4800]
    snr = 10 * np.log10(np.sum(b**2) / np.sum((a - b) ** 2))
    assert delay == 1024 and snr == pytest.approx(20.9, abs=0.3)


def test_what_cannot_be_a_neutone_model_is_one_sentence(tmp_path):
    from compare.control_models import FixedDecoder

    rave_like = tmp_path / "fixed.ts"
    torch.jit.script(FixedDecoder()).save(str(rave_like))
    e = open_export(rave_like)
    e.methods["forward"].out_ratio = 512  # a forward that gives latent frames, not audio
    with pytest.raises(
        UserError, match="forward does not take and give audio .* Neutone FX needs audio in and audio out"
    ):
        fits(e)
    e.methods["forward"].out_ratio, e.methods["forward"].out_channels = 1, 4
    with pytest.raises(UserError, match="forward has 4 outputs; Neutone FX plays one or two"):
        fits(e)
    chaos = open_export(export(build("chaos_effect", seed=0), tmp_path / "chaos.ts"))
    chaos.methods["forward"].inlets[2] = None  # a foreign export's input without a typed range
    with pytest.raises(
        UserError, match=r"input\(s\) 3 have no typed range: Neutone FX takes one audio input and knobs"
    ):
        fits(chaos)
    (tmp_path / "file.txt").write_text("")
    with pytest.raises(UserError, match=r"cannot write Neutone models into .*file.txt/sub .*: choose a folder"):
        neutone_save.save(tmp_path / "chaos.ts", tmp_path / "file.txt/sub")


def test_a_model_slower_than_real_time_at_its_smallest_buffer_is_refused(tmp_path):
    slow = export(build("chaos_effect", operators=1024, seed=0), tmp_path / "slow.ts")
    assert speed(wrapper(open_export(slow), [64]), 64, seconds=0.1) < 1.0
    with pytest.raises(
        UserError, match=r"slow.ts runs at 0\.\d+x real time at buffer 64, the smallest it would declare"
    ):
        neutone_save.save(slow, tmp_path / "out", [64])
    assert not (tmp_path / "out").exists()


def test_the_comparison_report_names_each_export_s_neutone_file(tmp_path):
    from compare.report import neutone_file

    (tmp_path / "neutone/a").mkdir(parents=True)
    (tmp_path / "neutone/a/model.nm").write_bytes(b"")
    assert neutone_file(tmp_path / "a.ts") == str(tmp_path / "neutone/a/model.nm")
    assert neutone_file(tmp_path / "b.ts") is None
