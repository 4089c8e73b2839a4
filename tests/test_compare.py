"""compare: measurements with known answers, and the report on small models."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from chaos_models.export import build, export
from compare import browser, clips, metrics, probes
from helpers.cli import run_cli
from safeio import UserError
from spec.host import SR


def test_sine_centroid_is_its_frequency():
    x = np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)
    s = metrics.spectral_stats(x, SR)
    assert abs(s["centroid_hz"] - 1000) < 30 and s["bandwidth_hz"] < 100 and s["flatness"] < 0.01


def test_white_noise_is_flat():
    x = np.random.default_rng(0).standard_normal(4 * SR)
    assert metrics.spectral_stats(x, SR)["flatness"] > 0.95


def test_rms_and_crest_factor():
    x = np.sin(2 * np.pi * 100 * np.arange(SR) / SR)
    assert abs(metrics.db(metrics.rms(x)) - (-3.01)) < 0.01
    assert abs(metrics.crest_factor(x) - np.sqrt(2)) < 1e-3


def varied_inputs():
    return list(probes.synthetic().values()) + [probes.tone(440, -6), probes.tone(3000, -20)]


def test_identity_keeps_diversity():
    xs = varied_inputs()
    assert metrics.homogenisation_index(xs, xs, SR) == pytest.approx(1.0)


def test_constant_output_collapses_diversity():
    xs = varied_inputs()
    same = np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.3
    assert (
        metrics.homogenisation_index(xs, [same[: len(x)] if len(x) <= SR else np.resize(same, len(x)) for x in xs], SR)
        < 0.05
    )


def test_known_linear_filter_response():
    """y[n] = (x[n] + x[n-1]) / 2 has |H(f)| = |cos(pi f / sr)|, and no harmonics."""
    for f in probes.tone_frequencies():
        x = probes.tone(f, -6)
        y = 0.5 * (x + np.concatenate([[0.0], x[:-1]]))
        gain, thd = metrics.tone_response(x, y, f, SR, probes.TONE_WINDOW)
        assert gain == pytest.approx(20 * np.log10(abs(np.cos(np.pi * f / SR))), abs=0.05)
        assert thd < 1e-3


def test_persistent_peak_is_found():
    rng = np.random.default_rng(0)
    spectra = []
    for k in range(5):  # noise of different colours, all with a 1 kHz resonance
        x = rng.standard_normal(SR) * (k + 1) * 0.05 + 0.5 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)
        spectra.append(metrics.power_spectrum(x, SR))
    modes = metrics.persistent_peaks(spectra)
    assert any(abs(m - 1000) < 30 for m in modes)


class Identity(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

    def forward(self, x):
        return x


def test_only_audio_to_audio_methods_are_analysed():
    from types import SimpleNamespace

    from compare.report import audio_methods

    ratios = {"forward": (1, 1), "encode": (1, 2048), "decode": (2048, 1), "prior": (2048, 2048)}
    export = SimpleNamespace(methods={k: SimpleNamespace(in_ratio=i, out_ratio=o) for k, (i, o) in ratios.items()})
    assert audio_methods(export) == (["forward"], ["encode", "decode", "prior"])


@pytest.fixture(scope="module")
def built_report(tmp_path_factory):
    """One small report for the tests below: an identity, a 5-operator ChaosEffect, a live synth, a broken file."""
    tmp_path = tmp_path_factory.mktemp("compare")
    ident = tmp_path / "identity.ts"
    torch.jit.script(Identity()).save(str(ident))
    chaos = export(build("chaos_effect", operators=5, w_mult=4, seed=0), tmp_path / "chaos.ts")
    live = export(build("live_model_synth", seed=0), tmp_path / "live.ts")
    bad = tmp_path / "broken.ts"
    bad.write_bytes(b"nope")
    take = tmp_path / "mine/raw/take.wav"  # one recording of the user's beside the probes (1 s of noise)
    take.parent.mkdir(parents=True)
    sf.write(take, 0.1 * np.random.default_rng(0).standard_normal(SR), SR)
    out = tmp_path / "report"
    r = run_cli(
        "-m",
        "compare",
        str(ident),
        str(chaos),
        str(live),
        str(bad),
        "--inputs",
        str(take),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--seeds",
        "1",
        timeout=900,
    )
    assert r.returncode == 0, r.stderr
    return out


def test_one_process_gives_the_same_numbers_as_two(built_report, tmp_path):
    src = built_report.parent
    exports = [src / n for n in ("identity.ts", "chaos.ts", "live.ts", "broken.ts")]
    r = run_cli(
        "-m",
        "compare",
        *map(str, exports),
        "--inputs",
        str(src / "mine/raw/take.wav"),
        "--out",
        str(tmp_path / "one"),
        "--jobs",
        "1",
        "--seeds",
        "1",
        timeout=900,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "one/metrics.json").read_text() == (built_report / "metrics.json").read_text()


def test_report_end_to_end(built_report):
    out = built_report
    m = json.loads((out / "metrics.json").read_text())
    assert m["models"]["identity:forward"]["homogenisation_index"] == pytest.approx(1.0)
    assert (
        m["models"]["identity:forward"]["family"] == "unknown"
        and m["models"]["chaos:chaos"]["family"] == "hand-written"
    )
    assert {"chaos:forward", "chaos:topo", "chaos:chaos"} <= set(m["models"])
    assert any("broken.ts" in s["export"] for s in m["skipped"]), "a failing model is skipped and listed"
    assert [x["neutone"] for x in m["exports"]] == [None] * 4 and "none yet (make export-neutone)" in (
        out / "index.html"
    ).read_text()
    osc = m["models"]["chaos:chaos"]["self_oscillation"]
    assert osc["values"][0] == 1 and osc["values"][-1] == 38  # the essay's control range, from the labels
    assert any("topo runs hotter" in c["claim"] for c in m["claims"])
    # the family: ChaosEffect from seed 0 at w_mult 2 and at each other usable w_mult, judged per instrument
    fam = m["family"]
    assert fam["members"] == [[0, 2.0], [0, 1.0], [0, 3.0], [0, 4.0]] and len(fam["per_member"]) == 12
    by = {(c["id"], c["method"], c["scope"]): c for c in fam["claims"]}
    osc = by[("self_oscillation", "chaos", "w_mult 1-4")]
    assert osc["n_rows"] == 4 and osc["holds"].endswith("/4")
    assert by[("topo_hotter", "topo vs forward", "w_mult 2 (the essay's)")]["n_rows"] == 1
    assert "The claims over ChaosEffect's family" in (out / "index.html").read_text()
    # one record per claim, resting on every model it applies to
    summary = {c["id"]: c for c in m["claim_summary"]}
    assert len(summary) == len(m["claim_summary"]) == len({r["id"] for r in m["claims"]})
    near = summary["near_linear"]
    assert near["n_rows"] == 3 and near["n_models"] == 3 and near["interval"] is not None
    thd = sorted(r["effect"] for r in m["claims"] if r["id"] == "near_linear")
    assert near["effect"] == thd[1] and near["interval"][0] <= thd[1] <= near["interval"][1]
    assert "mine/take" in m["inputs"] and len(m["inputs"]) == 1 + len(probes.synthetic())
    assert {c["n_inputs"] for c in m["claim_summary"]} == {len(m["inputs"])}, "recordings and probes alike"
    page = (out / "index.html").read_text()
    lo, hi = near["interval"]
    shown = (
        f"{near['effect']:.3g} [{lo:.3g}, {hi:.3g}] <small>{near['unit']}</small></td><td>3 / {len(m['inputs'])}</td>"
    )
    assert shown in page, "the claim table: effect, interval, and the models / inputs it rests on"
    assert "The essay's claims" in page and "homogenisation index of a model is" in page
    assert "join no family's claims:\nidentity." in page
    assert all((out / r["figure"]).exists() for r in m["models"].values())
    # the seed atlas of the live export: 32 seeds, a spread per feature, clips and a figure on disk
    [atlas] = m["seed_atlas"]
    forward = atlas["methods"]["forward"]
    assert atlas["export"] == "live.ts" and atlas["seeds"] == 32 and len(forward["per_seed"]) == 32
    levels = [p["rms_db"] for p in forward["per_seed"]]
    assert forward["spread"]["rms_db"] == {"min": min(levels), "median": float(np.median(levels)), "max": max(levels)}
    assert forward["spread"]["rms_db"]["max"] - forward["spread"]["rms_db"]["min"] > 1, (
        "seeds are different instruments"
    )
    assert all((out / c["src"]).exists() for c in forward["clips"]) and (out / atlas["figure"]).exists()
    assert forward["timbre_spread_db"] > 1, "the seeds' timbres lie apart"
    assert "Seed atlas: live.ts" in page and "audio/atlas__live__forward__seed0.mp3" in page
    # audio beside every figure: each input through each method, the input itself, three oscillation points
    for key, r in m["models"].items():
        assert set(r["clips"]) == set(m["inputs"]), key
        assert len(r["osc_clips"]) == (6 if r["self_oscillation"]["values"] else 2), key
    played = [c for r in m["models"].values() for c in [*r["clips"].values(), *r["osc_clips"].values()]]
    played += list(m["input_clips"].values())
    assert all((out / c["src"]).exists() and f"src='{c['src']}'" in page for c in played)
    controls_played = [c["clips"][role] for c in m["controls"] for role in ("holds", "fails")]
    assert all((out / c["src"]).exists() and f"src='{c['src']}'" in page for c in controls_played)
    assert page.count("<audio ") == len(played) + 1 + len(m["models"]) + 4 * 1 + len(controls_played), (
        "every clip, the A/B table, the atlas, the controls"
    )
    assert "How we know each detector works" in page
    assert [(c["verdict_holds"], c["verdict_fails"]) for c in m["controls"]] == [("supported", "refuted")] * len(
        m["controls"]
    )
    # loudness-matched: a clip not limited by its peak plays at the target RMS, whatever the model's level
    loud = next(
        c
        for r in m["models"].values()
        for c in [r["clips"]["probe/saw 110 Hz"]]
        if not c["flags"] and c["peak"] * 10 ** (c["gain_db"] / 20) < clips.PEAK_CEILING * 0.9
    )
    heard = decoded(out / loud["src"])[SR // 2 : -SR // 2]  # 3 s of saw; away from the MP3's padding
    assert 20 * np.log10(np.sqrt(np.mean(heard**2))) == pytest.approx(clips.TARGET_RMS_DB, abs=0.5)
    assert any("silent" in c["flags"] for c in played), "silence out of the identity is marked, not raised"
    assert sum(f.stat().st_size for f in out.rglob("*")) < 30e6


@pytest.mark.skipif(browser.chromium() is None, reason="no Chromium (make setup installs Debian's chromium)")
def test_the_report_in_a_real_browser(built_report):
    """Headless Chromium opens the report from disk: no console errors, every figure decoded, every
    audio source found with a finite duration, nothing wider than a phone; a screenshot beside it."""
    m = json.loads((built_report / "metrics.json").read_text())
    result = browser.check(built_report)
    assert browser.problems(result) == []
    clips_ = [c for r in m["models"].values() for c in [*r["clips"].values(), *r["osc_clips"].values()]]
    assert {a["src"] for a in result["audio"]} == {c["src"] for c in clips_} | {
        c["src"] for c in m["input_clips"].values()
    } | {c["src"] for a in m["seed_atlas"] for r in a["methods"].values() for c in r["clips"]} | {
        c["clips"][role]["src"] for c in m["controls"] for role in ("holds", "fails")
    }
    saw = next(a for a in result["audio"] if a["src"].endswith("identity__forward__probe_saw_110_Hz.mp3"))
    assert saw["duration"] == pytest.approx(3.0, abs=0.06), "the browser hears 3 s of saw"
    png_width = lambda f: int.from_bytes((built_report / f).read_bytes()[16:20], "big")  # the IHDR chunk
    assert len(result["images"]) == len(m["models"]) + 1
    assert all(i["width"] == png_width(i["src"]) > 0 for i in result["images"]), result["images"]
    assert (built_report / "screenshot.png").stat().st_size > 10_000


def test_the_browser_check_can_fail(built_report, tmp_path):
    broken = tmp_path / "report"
    shutil.copytree(built_report, broken)
    (broken / "chaos__chaos.png").unlink()
    next((broken / "audio").glob("chaos__chaos__*.mp3")).unlink()
    found = browser.problems(browser.check(broken)) if browser.chromium() else pytest.skip("no Chromium")
    assert "image not decoded: chaos__chaos.png" in found
    assert any(line.startswith("audio without a duration: audio/chaos__chaos__") for line in found)
    assert any("ERR_FILE_NOT_FOUND" in line for line in found)


def decoded(mp3) -> np.ndarray:
    r = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp3), "-f", "f32le", "-ac", "1", "-"], capture_output=True, check=True
    )
    return np.frombuffer(r.stdout, "<f4")


def test_empty_exports_folder(tmp_path):
    r = run_cli("-m", "compare", str(tmp_path))
    assert r.returncode == 2 and "no .ts files" in r.stderr


def test_a_browser_that_dies_gives_one_sentence(built_report, monkeypatch):
    monkeypatch.setattr(browser, "chromium", lambda: "/bin/false")
    with pytest.raises(UserError, match="Chromium could not open .*index.html .*the report itself is written"):
        browser.check(built_report)
