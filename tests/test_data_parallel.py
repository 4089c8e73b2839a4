"""Two processes train one RAVE model on CPU (gloo), proven to be the same training as one process.

Slow: real `rave train` under Lightning's DDP, v2_small through both phases (PHASE_1_DURATION=2).
For (b) the model's own noise is switched off by gin (a spherical encoder instead of the variational one's
random draw, no noise bands), so what is left between two processes with batch B and one with 2B is
the order of float sums and RAVE's batch-relative losses; the control is one process with batch B, which
sees half the examples. Measured here: after step 1, 0.028 (two processes vs one) against 2.39 (control);
after step 4 (two steps of each phase), 0.64 against 2.96 (L2 distance of all weights).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers.audio import noise_set
from helpers.cli import REPO
from rave_pipeline.commands import runs

pytestmark = pytest.mark.slow

NO_NOISE = """from __gin__ import dynamic_registration
import rave
from rave import blocks

rave.BetaWarmupCallback.target_value = .01
blocks.EncoderV2.n_out = 1
blocks.SphericalEncoder.encoder_cls = @blocks.EncoderV2
rave.RAVE.encoder = @blocks.SphericalEncoder
blocks.GeneratorV2.noise_module = None
"""
COMMON = ["--device", "cpu", "--n-signal", "65536", "--augment", "none", "--override", "PHASE_1_DURATION=2"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dp")
    noise_set(root / "datasets/noise/raw", 40)
    configs = root / "configs"
    configs.mkdir()
    shutil.copy(REPO / "configs/noise.toml", configs)
    (configs / "noise.gin").write_text(NO_NOISE)
    assert (
        subprocess.run(train_cmd(root, "preprocess", "--n-signal", "65536"), env=env_of(root), cwd=REPO).returncode == 0
    )
    return root


def env_of(root):
    return {**os.environ, "OMP_NUM_THREADS": "1", "RAVE_PIPELINE_CONFIGS": str(root / "configs")}


def train_cmd(root, command="train", *args):
    return [sys.executable, "-m", "rave_pipeline", command, "noise", "--root", str(root), *args]


def start(root, *args):
    cmd = train_cmd(root, "train", *COMMON, *map(str, args))
    env = {**env_of(root), "RAVE_PIPELINE_PROGRESS_S": "1"}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def train(root, *args):
    out, _ = start(root, *args).communicate(timeout=600)
    return out


def ckpt(root, tag, step, name="timeline"):
    (path,) = (root / f"runs/noise-{tag}").rglob(f"{name}-step={step}.ckpt")
    return torch.load(path, map_location="cpu", weights_only=False)


def distance(a, b) -> float:
    keys = [k for k in a["state_dict"] if k.endswith(("weight", "bias", "weight_g", "weight_v"))]
    return sum(((a["state_dict"][k] - b["state_dict"][k]) ** 2).sum().item() for k in keys) ** 0.5


def test_two_processes_train_the_model_one_process_trains_with_their_global_batch(root):
    steps = ["--max-steps", 4, "--save-every", 1, "--val-every", 100]
    out = train(root, "--tag", "two", "--procs", 2, "--batch", 2, *steps)
    assert "batch 2 per process × 2 processes = 4 examples per step" in out, out[-3000:]
    train(root, "--tag", "one", "--procs", 1, "--batch", 4, *steps)
    train(root, "--tag", "half", "--procs", 1, "--batch", 2, *steps)
    for step, phase in ((1, 1), (2, 1), (3, 2), (4, 2)):
        two = ckpt(root, "two", step)
        meta = two["rave_to_chaos"]
        assert meta["phase"] == phase
        assert len(meta["ranks"]) == 2 and meta["ranks"][0] == meta["ranks"][1], (
            f"(a) weights and optimizer state bit-identical on both ranks at step {step}"
        )
    one, half, two = (ckpt(root, t, 1) for t in ("one", "half", "two"))
    assert distance(two, one) < 0.06 and distance(half, one) > 1.5, "(b) after one step: 0.028 vs 2.39 measured"
    one, half, two = (ckpt(root, t, 4) for t in ("one", "half", "two"))
    assert distance(two, one) < 1.0 and distance(half, one) > 2.5, "(b) after both phases: 0.64 vs 2.96 measured"
    settings = json.loads((root / "runs/noise-two/settings.json").read_text())
    assert (settings["batch"], settings["processes"], settings["global_batch"]) == (2, 2, 4), "for the manifest"
    log = (root / "runs/noise-two/train.log").read_text()
    assert log.count("saved ") == 1 and log.count("step 4/4") == 1, "rank 0 alone says it"
    assert "different weights" not in log


def rank_pids(root) -> dict[int, int]:
    """{local rank: pid} of this test's rave train processes (rank 0 has no LOCAL_RANK)."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if b"rave_pipeline.inside_rave.rave_cli" not in cmd or str(root).encode() not in b" ".join(cmd):
                continue
            env = dict(e.split(b"=", 1) for e in (proc / "environ").read_bytes().split(b"\0") if b"=" in e)
            found[int(env.get(b"LOCAL_RANK", b"0"))] = int(proc.name)
        except (OSError, ValueError):
            continue
    return found


def wait_for_step(proc, step: int) -> list[str]:
    lines = []
    for line in proc.stdout:
        lines.append(line)
        m = re.match(r"step (\d+)/", line)
        if m and int(m.group(1)) >= step:
            return lines
    raise AssertionError("training ended early:\n" + "".join(lines[-30:]))


def test_a_signal_to_one_rank_stops_every_rank_at_one_step_and_another_count_resumes(root):
    proc = start(root, "--tag", "sig", "--procs", 2, "--batch", 2, "--max-steps", 200, "--val-every", 100)
    wait_for_step(proc, 2)
    ranks = rank_pids(root)
    assert set(ranks) == {0, 1}
    os.kill(ranks[1], signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out[-3000:]
    assert re.search(r"received SIGTERM \(rank 1\): saved .*stopped-step=(\d+)\.ckpt", out), out[-3000:]
    (stopped,) = (root / "runs/noise-sig").rglob("stopped-step=*.ckpt")
    step = runs.global_step(stopped)
    digests = torch.load(stopped, map_location="cpu", weights_only=False)["rave_to_chaos"]["ranks"]
    assert len(digests) == 2 and digests[0] == digests[1], "both ranks saved the same weights at the same step"
    assert "training stopped by signal SIGTERM (rank 1)" in out and "to resume" in out
    assert not rank_pids(root), "nothing left running"

    out = train(root, "--tag", "sig", "--procs", 1, "--batch", 4, "--max-steps", step + 2, "--val-every", 100)
    assert f"at step {step}" in out and "batch 4 per process × 1 process" in out, out[-3000:]
    assert runs.global_step(runs.newest_checkpoint(root / "runs/noise-sig")) == step + 2


def test_a_rank_killed_outright_ends_the_others_within_a_minute_naming_it(root):
    proc = start(root, "--tag", "kill", "--procs", 2, "--batch", 2, "--max-steps", 200, "--val-every", 100)
    wait_for_step(proc, 1)
    ranks = rank_pids(root)
    os.kill(ranks[1], signal.SIGKILL)
    t0 = time.monotonic()
    out, _ = proc.communicate(timeout=120)
    took = time.monotonic() - t0
    print(f"the others ended {took:.1f} s after rank 1 was killed")
    assert took < 60 and proc.returncode != 0
    assert f"rank 1 (pid {ranks[1]}) killed by SIGKILL" in out and "make train-noise to resume" in out, out[-3000:]
    assert not rank_pids(root), "nothing left running"
