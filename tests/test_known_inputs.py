"""Known answers for what goes into the measurements: controls' nominal points, generated sources, decoded
audio, database chunks, the probes, and the timings the benchmarks print. Each expected value is written
here from the definition (or a few lines of numpy), never computed by the code under test."""

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from safeio import UserError
from spec.host import SR


def test_a_control_sits_a_quarter_into_its_range_and_a_label_gives_its_range():
    from spec.inlets import Inlet, label_range
    from spec.instruments import CONTROL, MOD1, MOD2

    assert (MOD1.nominal, MOD2.nominal, CONTROL.nominal) == (5.25, 2.0, 10.25)  # 1 + 17/4, 8/4, 1 + 37/4
    assert Inlet("g", "gain", "", -2.0, 2.0).nominal == -1.0
    assert Inlet("g", "gain", "", 0.0, 8.0, nominal=7.0).nominal == 7.0, "an export's own nominal wins"
    assert label_range("(signal) mod1: sine fold depth, 1 to 18") == (1.0, 18.0)
    assert label_range("(signal) x: audio input, -1 to 1") == (-1.0, 1.0)
    assert label_range("(signal) latent 0") is None


def test_manifests_naming_a_class_by_its_short_path_are_read_as_the_full_one():
    from spec.instruments import class_path

    assert class_path("chaos_models.ChaosEffect") == "chaos_models.models.ChaosEffect"
    assert class_path("chaos_models.StreamingChaosEffect") == "chaos_models.beyond.StreamingChaosEffect"
    assert class_path("chaos_models.live.LiveChaosEffect") == "chaos_models.live.LiveChaosEffect"
    assert class_path("somewhere.Else") == "somewhere.Else"


def test_saw_and_adsr_are_their_definitions():
    from audition import sources

    sr = 1000
    saw = sources.make("saw:100:0.5", 1.0, sr)  # 10 samples a period: -0.5, -0.4, ... 0.4
    np.testing.assert_allclose(saw[:10], 0.5 * (2 * np.arange(10) / 10 - 1), atol=1e-6)
    env = sources.make("adsr:0.1:0.1:0.5:0.2:1", 1.0, sr)  # attack 0.1, decay 0.1, sustain 0.5, release 0.2
    t = np.arange(sr) / sr
    expected = np.interp(t, [0, 0.1, 0.2, 0.8, 1.0], [0, 1, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(env, expected, atol=1e-6)


def test_stereo_decodes_as_two_channels_and_an_empty_file_as_no_samples(tmp_path):
    from safeio import decode_audio

    t = np.arange(SR // 10) / SR
    left = 0.5 * np.sin(2 * np.pi * 441 * t)
    sf.write(tmp_path / "lr.wav", np.stack([left, np.zeros_like(t)], 1), SR, subtype="FLOAT")
    y = decode_audio(tmp_path / "lr.wav", SR, 2)
    assert y.shape == (2, len(t))
    np.testing.assert_allclose(y[0], left, atol=1e-6)
    assert np.abs(y[1]).max() == 0.0
    mono = decode_audio(tmp_path / "lr.wav", SR, 1)[0]  # ffmpeg's down-mix: each side at -3 dB
    np.testing.assert_allclose(mono, left / np.sqrt(2), atol=1e-5)
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1)), SR)
    assert decode_audio(tmp_path / "empty.wav", SR, 1).shape == (1, 0)


def test_database_chunks_are_spread_over_the_database_and_cut_from_their_middle(tmp_path):
    import lmdb
    from udls.generated import AudioExample

    from safeio.database import chunks, synthetic_database

    db = synthetic_database(tmp_path / "db", chunks=16, chunk_samples=1000, sr=SR)
    env = lmdb.open(str(db), readonly=True, lock=False)
    with env.begin() as txn:  # the records as written: int16, in key order
        raw = [np.frombuffer(AudioExample.FromString(v).buffers["waveform"].data, np.int16) for _, v in txn.cursor()]
    env.close()
    got = chunks(db, 4, 100)
    assert len(got) == 4
    for out, index in zip(got, (0, 5, 10, 15)):  # 4 of 16, evenly: the first, the last and two between
        np.testing.assert_array_equal(out, raw[index][450:550].astype(np.float32) / 32768)


def test_only_declared_variables_are_read_and_a_child_gets_the_changes(monkeypatch):
    from safeio.environment import child_env, env

    with pytest.raises(KeyError, match="not declared"):
        env("HOME")
    monkeypatch.setenv("STAGE_DIR", "/scratch")
    assert env("STAGE_DIR") == "/scratch"
    assert child_env(STAGE_DIR="none")["STAGE_DIR"] == "none"


def test_the_probes_are_what_the_report_says(tmp_path):
    from compare import probes

    impulses = probes.synthetic()["probe/impulses 4 Hz"]
    assert np.flatnonzero(impulses).tolist() == [k * SR // 4 for k in range(12)]  # 4 a second for 3 s
    ramp = np.linspace(-0.9, 0.9, 10 * SR, dtype=np.float32)
    (tmp_path / "set/raw").mkdir(parents=True)
    sf.write(tmp_path / "set/raw/ramp.wav", ramp, SR, subtype="FLOAT")
    [(name, x)] = probes.recordings([tmp_path / "set/raw/ramp.wav"], seconds=4.0).items()
    assert name == "set/ramp"
    np.testing.assert_array_equal(x, ramp[3 * SR : 7 * SR])  # the middle 4 s of 10


class Clock:
    """time.perf_counter for code under test: each call of a timed function moves it by that function's cost."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float):
        return lambda: setattr(self, "now", self.now + seconds)


def test_paired_timing_is_time_b_over_time_a_on_a_known_clock(monkeypatch):
    from audition import timing

    clock = Clock()
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    p = timing.paired(clock.spend(0.001), clock.spend(0.003), pairs=5)
    assert p["median"] == pytest.approx(3.0) and p["q1"] == pytest.approx(3.0) and p["q3"] == pytest.approx(3.0)
    assert p["a_s"] == pytest.approx(0.001) and p["b_s"] == pytest.approx(0.003) and p["pairs"] == 5


def test_bench_chaos_plays_controls_at_their_nominal_and_its_rtf_is_audio_seconds_per_second(monkeypatch):
    from chaos_models.models import ChaosEffect
    from compare import bench_chaos

    x = bench_chaos.typical_input(ChaosEffect.METHODS["forward"], 64)
    assert x.shape == (1, 3, 64) and x[0, 0].abs().max() <= 1 and x[0, 0].std() > 0.3
    assert x[0, 1].eq(5.25).all() and x[0, 2].eq(2.0).all()  # mod1 and mod2 a quarter into 1-18 and 0-8
    fake = {"median": 2.0, "q1": 2.0, "q3": 2.0, "pairs": 1, "a_s": 1e-4, "b_s": 2e-4}
    monkeypatch.setattr(bench_chaos, "paired", lambda fa, fb, pairs: (fa(), fb(), fake)[2])
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):
            rows = list(itertools.islice(bench_chaos.rows(buffers=[64]), 2))
    finally:
        torch.set_num_threads(threads)
    for _, _, n, rtf, rtf_ref, _ in rows:
        assert (rtf, rtf_ref) == (pytest.approx(64 / SR / 1e-4), pytest.approx(64 / SR / 2e-4))


@pytest.mark.parametrize("p999_share", [0.49, 0.51])
def test_a_buffer_is_safe_when_its_99_9th_percentile_block_is_under_half_its_deadline(monkeypatch, p999_share):
    from audition import bench

    deadline_s = 256 / SR
    times = np.full(10_000, 0.1 * deadline_s)
    times[-5:] = p999_share * deadline_s * 1.2  # 5 in 10 000: past the 99.9th percentile (10 blocks), not the 99th
    times[-15:-5] = p999_share * deadline_s  # these 10 set the 99.9th percentile
    monkeypatch.setattr(bench, "block_times", lambda host, m, blocks: times)
    r = bench.worst_case(SimpleNamespace(buffer=256), None, SR, blocks=len(times))
    assert r["deadline_ms"] == pytest.approx(1e3 * 256 / SR)
    assert r["p99_ms"] == pytest.approx(1e3 * 0.1 * deadline_s)
    assert r["p999_ms"] == pytest.approx(1e3 * p999_share * deadline_s, rel=0.05)
    assert r["safe"] == (p999_share < 0.5)


def test_bench_s_delay_of_a_known_delay_is_its_samples(tmp_path):
    from audition import bench
    from compare.control_models import Delay

    torch.jit.script(Delay()).save(str(tmp_path / "delay.ts"))
    assert bench.model_delay(tmp_path / "delay.ts", "forward", 256) == Delay.SAMPLES


class AtRate(torch.nn.Module):
    """An export that says its sample rate as RAVE's do (sampling_rate) or as others do (sr)."""

    def __init__(self, **rate):
        super().__init__()
        for name, value in rate.items():
            setattr(self, name, value)
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

    def forward(self, x):
        return x


def test_an_export_s_sample_rate_is_the_one_it_says(tmp_path):
    from audition.model_file import open_export

    for rate, expected in (({"sampling_rate": 48000}, 48000), ({"sr": 22050}, 22050), ({}, None)):
        torch.jit.script(AtRate(**rate)).save(str(tmp_path / "m.ts"))
        assert open_export(tmp_path / "m.ts").sampling_rate == expected


@pytest.mark.parametrize("subtype,ext", [("PCM_16", "wav"), ("PCM_24", "wav"), ("FLOAT", "wav"), ("PCM_16", "flac")])
def test_in_process_decoding_gives_ffmpeg_s_samples_at_the_target_rate(tmp_path, subtype, ext):
    """libsndfile decodes in-process; ffmpeg is the reference (it is what rave preprocess uses): the
    same samples, bit for bit, for mono and stereo files read as mono or stereo (ffmpeg's -3 dB mix)."""
    from safeio import audio

    rng = np.random.default_rng(3)
    x = (rng.standard_normal((SR // 2 + 123, 2)) * 0.3).clip(-1, 1)
    for channels in (1, 2):
        f = tmp_path / f"in{channels}.{ext}"
        sf.write(f, x[:, :channels], SR, subtype=subtype)
        for want in (1, 2):
            ours = list(audio.stream_audio(f, SR, want, block=4096))
            ffmpeg = np.concatenate(list(audio.ffmpeg_blocks(f, SR, want, 4096, None)), axis=1)
            assert [b.shape[1] for b in ours] == [4096] * (len(x) // 4096) + [len(x) % 4096]
            assert np.array_equal(np.concatenate(ours, axis=1), ffmpeg), (channels, want)


def test_other_rates_are_resampled_in_process_to_the_right_length_pitch_and_level(tmp_path):
    from safeio import audio

    t = np.arange(48000) / 48000
    sf.write(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 1000 * t), 48000, subtype="FLOAT")
    y = audio.decode_audio(tmp_path / "a.wav", SR, 1)[0]
    assert len(y) == SR
    spectrum = np.abs(np.fft.rfft(y[SR // 10 : SR // 10 + SR // 2]))
    assert np.argmax(spectrum) * 2 == 1000  # bins of 2 Hz over half a second
    assert np.abs(y[1000:-1000]).max() == pytest.approx(0.5, abs=2e-3)
    ffmpeg = np.concatenate(list(audio.ffmpeg_blocks(tmp_path / "a.wav", SR, 1, SR, None)), axis=1)[0]
    assert np.abs(ffmpeg[1000 : SR - 1000] - y[1000:-1000]).max() < 1e-3  # two resamplers, one 1 kHz tone


def test_what_libsndfile_cannot_read_goes_through_ffmpeg(tmp_path):
    import subprocess

    from safeio import audio

    sf.write(tmp_path / "a.wav", np.zeros((SR // 10, 6)), SR)  # 5.1: ffmpeg's surround matrices
    subprocess.run(["ffmpeg", "-v", "error", "-i", tmp_path / "a.wav", "-c:a", "aac", tmp_path / "a.m4a"], check=True)
    assert not audio.sndfile_reads(tmp_path / "a.wav") and not audio.sndfile_reads(tmp_path / "a.m4a")
    assert audio.decode_audio(tmp_path / "a.m4a", SR, 1).shape[1] > SR // 20
    (tmp_path / "b.wav").write_text("not audio")
    with pytest.raises(UserError, match=r"b.wav: not readable as audio \(.*\); remove it or convert it to WAV"):
        audio.decode_audio(tmp_path / "b.wav", SR, 1)
