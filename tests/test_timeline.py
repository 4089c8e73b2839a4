"""A run's checkpoints, end to end on CPU: SAVE_EVERY keeps them, CKPT= exports any of them, and
`make timeline-<recipe>` exports, renders and measures each one, while the run still trains.

Slow (about 4 minutes): real rave preprocess / train / export, real renders, Chromium when installed.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from audition.model_file import open_export
from compare import browser, latent
from helpers.audio import noise_set, sox_noise
from helpers.cli import REPO
from rave_pipeline.commands import checkpoints
from spec import names
from spec.host import SR

pytestmark = pytest.mark.slow
OPTS = ["--n-signal", "65536", "--val-every", "2", "--save-every", "2", "--device", "cpu"]


def cli(*args, root, background=False):
    cmd = [sys.executable, "-m", *map(str, args), "--root", str(root)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if background:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)


def test_checkpoint_exports_and_the_timeline_of_a_run_still_training(tmp_path):
    noise_set(tmp_path / "datasets/noise/raw", 40)
    assert cli("rave_pipeline", "preprocess", "noise", "--n-signal", "65536", root=tmp_path).returncode == 0
    # RAVE's adversarial phase from step 5 on: each kept checkpoint records the phase it was saved in
    r = cli(
        "rave_pipeline", "train", "noise", *OPTS, "--max-steps", "6", "--override", "PHASE_1_DURATION=4", root=tmp_path
    )
    assert r.returncode == 0, r.stdout[-3000:]
    runs_dir = tmp_path / "runs/noise"
    found = {c.step: c for c in checkpoints.listing(runs_dir)}
    assert {2, 4, 6} <= set(found), found
    for step in (2, 4, 6):  # each carries the newest validation; RAVE validates at step 2 of each 3-batch epoch
        c = found[step]
        assert c.path.name == f"timeline-step={step}.ckpt" and 2 <= c.validation_step <= step
        assert c.phase == (1 if step <= 4 else 2), (step, c.phase)
        assert isinstance(c.validation, float)  # RAVE's loss as logged: inf when a validation chunk is silent
    assert found[2].validation_step == 2, "saved after the validation due at its own step, so it carries it"

    # CKPT=: a step (named with it), the newest (named without), and one sentence listing them for a miss
    r = cli("rave_pipeline", "export", "noise", "--ckpt", "4", root=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    step4 = tmp_path / "exports" / names.trained("noise", "v2_small", 4)
    manifest = json.loads(step4.with_suffix(".json").read_text())
    assert (manifest["global_step"], manifest["phase"], manifest["validation"]) == (4, 1, found[4].validation)
    assert cli("rave_pipeline", "export", "noise", "--ckpt", "last", root=tmp_path).returncode == 0
    assert (tmp_path / "exports" / names.trained("noise", "v2_small")).is_file()
    r = cli("rave_pipeline", "export", "noise", "--ckpt", "1", root=tmp_path)  # no save before step 2
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"CKPT=1 matches no checkpoint of {runs_dir}" in r.stderr
    v4 = found[4]
    assert (
        f"step 4 · phase 1 · validation {v4.validation:.4g} (at step {v4.validation_step}) · timeline-step=4.ckpt"
        in r.stderr
    ), r.stderr
    r = cli("rave_pipeline", "export", "noise", "--ckpt", str(tmp_path / "nowhere.ckpt"), root=tmp_path)
    assert r.returncode == 2 and "nowhere.ckpt: no such file" in r.stderr

    # the timeline while the run trains on (to step 14), with one input of the user's
    mine = sox_noise(tmp_path / "my take.wav", 2.0, kind="brownnoise")
    trainer = cli(
        "rave_pipeline",
        "train",
        "noise",
        *OPTS,
        "--max-steps",
        "14",
        "--override",
        "PHASE_1_DURATION=4",
        root=tmp_path,
        background=True,
    )
    out = tmp_path / "report"
    r = cli("rave_to_chaos.timeline", "noise", "--inputs", mine, "--out", out, "--jobs", "1", root=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert trainer.wait(timeout=900) == 0, trainer.stdout.read()[-3000:]

    def no_inf_or_nan(word):
        raise AssertionError(f"metrics.json holds {word}: not JSON (RAVE's inf validation must become null)")

    report = json.loads((out / "metrics.json").read_text(), parse_constant=no_inf_or_nan)
    steps = [c["step"] for c in report["checkpoints"]]
    assert steps == sorted(steps) and {2, 4, 6} <= set(steps)
    # compare's input set (2 recordings of each dataset under ROOT: here only noise's; 4 probes) + the user's
    assert report["inputs"][:2] == ["noise/take 0 ü", "noise/take 1 ü"] and len(report["inputs"]) == 7
    assert report["inputs"][-1].endswith("/my take")
    for c in report["checkpoints"]:
        assert {"step", "phase", "export", "validation", "metrics"} <= set(c)
        m = c["metrics"]
        for key in ("reconstruction", "homogenisation_index", "hf_share", "loudness_db", "latent_diversity_ratio"):
            assert np.isfinite(m[key]), (c["step"], key)
        assert m["modes_count"] == len(m["modes_hz"]) and (m["strongest_mode_hz"] in m["modes_hz"] or not m["modes_hz"])
        assert json.loads(open_export(c["export"]).path.with_suffix(".json").read_text())["global_step"] == c["step"]
        assert set(c["clips"]) == set(report["inputs"]) and set(c["latent_clips"]) == set(
            latent.PRIOR_KINDS + latent.DATA_KINDS
        )
        assert all((out / clip["src"]).is_file() for clip in [*c["clips"].values(), *c["latent_clips"].values()])
    assert (out / "curves.png").is_file() and "A/B:" in (out / "index.html").read_text()
    if browser.chromium():
        assert "opened in headless Chromium: no problems" in r.stdout, r.stdout[-2000:]

    # again, on the finished run: the exports made are reused, only the new checkpoints are exported
    r = cli("rave_to_chaos.timeline", "noise", "--every", "2", "--out", out, "--jobs", "2", root=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    again = [c["step"] for c in json.loads((out / "metrics.json").read_text())["checkpoints"]]
    every_other = [c.step for c in checkpoints.listing(runs_dir)][::2]
    assert again == every_other + ([14] if every_other[-1] != 14 else []), "every 2nd, and the newest always"
    exported = [line for line in r.stdout.splitlines() if line.startswith("exporting ")]
    assert exported and not [line for line in exported for s in (2, 4, 6) if f"(step {s}," in line], exported

    # latent decoding as nn~ plays it: finite, of the frames' length, the same for a seed, not for another
    export = open_export(tmp_path / "exports" / names.trained("noise", "v2_small"))
    dims, ratio = export.method("decode").in_channels, export.method("decode").in_ratio
    z = latent.trajectory("N(0,1) smooth", dims, 40, 0, SR / ratio)
    a, b, c = latent.decode(export, z, seed=0), latent.decode(export, z, seed=0), latent.decode(export, z, seed=1)
    assert a.shape == (40 * ratio,) and np.isfinite(a).all() and np.array_equal(a, b) and not np.array_equal(a, c)
