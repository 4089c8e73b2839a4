"""make gpu-evidence: its plan against numbers worked by hand (fast), and the whole command rehearsed on CPU
with tiny settings (slow: real preprocess, rave train through both phases, exports, timeline, compare)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers.audio import noise_set
from helpers.cli import REPO
from rave_pipeline.benchmarks import evidence_plan
from rave_pipeline.commands import recipes

# (batch, phase-1 s/step, phase-2 s/step) as make bench-gpu measured the noise recipe on an H200
H200 = [(4, 0.049, 0.055), (16, 0.042, 0.072), (64, 0.112, 0.216), (120, 0.184, 0.382)]


def test_the_measured_runs_are_read_per_recipe_and_n_signal():
    measured = json.loads((REPO / "configs/measured/h200.json").read_text())
    points = evidence_plan.measured_points(measured, "noise", 131072)
    assert [(b, round(s1, 3), round(s2, 3)) for b, s1, s2 in points] == H200
    assert evidence_plan.measured_points(measured, "noise", 65536) == []


def test_the_batch_that_trains_most_examples_per_second_unless_the_database_holds_fewer():
    # examples/s over one step of each phase: 4/0.052 = 77, 16/0.057 = 281, 64/0.164 = 390, 120/0.283 = 424
    assert evidence_plan.choose_batch(H200, holds=500)[0] == 120
    assert evidence_plan.choose_batch(H200, holds=44) == (
        44,
        "batch 120 trained the most examples per second on this card (424/s); the database holds at most batch 44",
    )
    assert evidence_plan.choose_batch(H200[:2], holds=500)[0] == 16


def test_each_phase_gets_half_the_budget_and_at_least_twelve_checkpoints_are_kept():
    p = evidence_plan.plan(H200, holds=500, minutes=8)
    slope1, icpt1 = np.polyfit([4, 16, 64, 120], [0.049, 0.042, 0.112, 0.184], 1)
    slope2, icpt2 = np.polyfit([4, 16, 64, 120], [0.055, 0.072, 0.216, 0.382], 1)
    s1, s2 = icpt1 + 120 * slope1, icpt2 + 120 * slope2
    half = 8 * 60 * 0.85 / 2  # 204 s of pure training per phase
    assert p.batch == 120 and p.s_per_step == pytest.approx((s1, s2))
    assert p.phase_1 == int(half / s1) and p.max_steps == int(half / s1) + int(half / s2)
    assert p.save_every == p.max_steps // 11 and p.max_steps // p.save_every >= 11
    assert p.minutes() == pytest.approx((half / 60, half / 60), rel=0.01)


def test_the_largest_batch_a_database_holds_follows_rave_s_split():
    recipe = recipes.load("noise")
    assert evidence_plan.largest_batch(recipe.min_chunks, 45) == 44  # 98/2: 44 train, 1 ... 45 chunks
    assert recipe.min_chunks(evidence_plan.largest_batch(recipe.min_chunks, 91)) <= 91
    assert recipe.min_chunks(evidence_plan.largest_batch(recipe.min_chunks, 91) + 1) > 91


@pytest.mark.slow
def test_the_evidence_command_rehearsed_on_cpu_trains_both_phases_and_writes_the_evidence(tmp_path):
    raw = noise_set(tmp_path / "raw", seconds=70, files=2)
    kit = tmp_path / "kit"
    (kit / "data").mkdir(parents=True)
    (kit / "data" / "noise").symlink_to(raw)
    out, root = tmp_path / "evidence", tmp_path / "work"
    cmd = [sys.executable, str(REPO / "scripts/gpu_evidence.py"), "--device", "cpu", "--steps", "2,2"]
    cmd += ["--n-signal", "65536", "--kit", kit, "--root", root, "--out", out, "--jobs", "2", "--seeds", "0"]
    r = subprocess.run(list(map(str, cmd)), cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    evidence = json.loads((out / "evidence.json").read_text())
    assert evidence["plan"]["phase_1"] == 2 and evidence["plan"]["max_steps"] == 4
    assert evidence["checkpoints"] == [[1, 1], [2, 1], [3, 2], [4, 2]]  # (step, phase): one kept every step
    assert evidence["progress"]["phases"]["2"]["steps"] >= 1  # RAVE trained in its adversarial phase
    assert set(evidence["walls_s"]) == {"preprocess", "train", "export", "export-chaos", "timeline", "compare"}
    assert len(evidence["clips"]) == 6 and all((out / c).stat().st_size > 1000 for c in evidence["clips"])
    claims = json.loads((out / "claims.json").read_text())
    trained = {c["id"]: c["verdict"] for c in claims["trained"]}
    assert trained["homogenisation"] in ("supported", "partly", "refuted"), claims["trained"]
    assert {"curves.png", "timeline-metrics.json"} <= {p.name for p in out.iterdir()}
    assert sum(p.stat().st_size for p in out.iterdir()) < 3_000_000
    assert not list(tmp_path.glob(".evidence*")), "the staging folder is moved in whole"


def test_the_scipy_stand_ins_compute_what_rave_s_pinned_scipy_does():
    from scipy import signal

    from rave_pipeline.inside_rave.scipy_compat import stand_ins

    firwin, kaiserord = stand_ins(signal.firwin, signal.kaiserord)
    n, beta = kaiserord(np.array([100.0]), np.array([0.1]))  # as rave's fmin hands it a one-element array
    assert (n, beta) == signal.kaiserord(100.0, 0.1)
    h = firwin(n, 0.3, window=("kaiser", beta), scale=False, nyq=np.pi)
    assert np.array_equal(h, signal.firwin(n, 0.3, window=("kaiser", beta), scale=False, fs=2 * np.pi))
    assert np.allclose(h, signal.firwin(n, 0.3 / np.pi, window=("kaiser", beta), scale=False))
