"""End to end on CPU with generated audio: preprocess -> train -> kill -> resume -> export -> load.

Slow (about a minute each): real `rave preprocess`, `rave train`, `rave export --streaming`.
"""

import json
import os
import random
import re
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
from rave_pipeline.data import disk
from spec import names

pytestmark = pytest.mark.slow


def start(*args, root):
    cmd = [sys.executable, "-m", "rave_pipeline", *map(str, args), "--root", str(root)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def finish(proc, timeout=900):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def wait_for_checkpoint(runs_dir, proc, timeout=600):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if runs.checkpoints(runs_dir):
            time.sleep(1.0)  # let the save finish writing
            return
        if proc.poll() is not None:
            pytest.fail("training ended before its first checkpoint:\n" + proc.stdout.read()[-3000:])
        time.sleep(0.5)
    pytest.fail("no checkpoint within the timeout")


def kill_then_resume(root, recipe, opts, how):
    runs_dir = root / "runs" / recipe
    proc = start("train", recipe, *opts, root=root)
    wait_for_checkpoint(runs_dir, proc)
    if how == "SIGTERM":  # what Slurm and `kill` send: the wrapper forwards it and says how to resume
        proc.send_signal(signal.SIGTERM)
        code, out = finish(proc, timeout=120)
        assert code == 128 + signal.SIGTERM and "run make train-" in out and "to resume" in out
        assert "received SIGTERM: saved" in out, "the trainer checkpoints on the way out"
    elif how == "child":  # kill -9 of RAVE itself at a random moment (mid-step, mid-save...)
        children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
        delay = random.uniform(0, 3)
        time.sleep(delay)
        os.kill(int(children[0]), signal.SIGKILL)
        code, out = finish(proc, timeout=120)
        assert code == 2 and "Traceback" not in out, f"killed {delay:.2f} s after the first checkpoint:\n{out[-2000:]}"
        assert "rave train was killed (SIGKILL, signal 9)" in out and f"run make train-{recipe} to resume" in out
    else:  # kill -9 of the wrapper alone: its RAVE child must not train on as an orphan
        children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
        assert len(children) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        t0 = time.time()
        while os.path.exists(f"/proc/{children[0]}") and time.time() - t0 < 120:
            time.sleep(0.5)
        assert not os.path.exists(f"/proc/{children[0]}"), "the trainer died with its parent (after checkpointing)"
        assert any(p.name.startswith("stopped-step=") for p in runs_dir.rglob("*.ckpt")), "it saved on the way out"
    step_at_kill = runs.global_step(runs.newest_checkpoint(runs_dir))
    assert step_at_kill > 0

    code, out = finish(start("train", recipe, *opts, root=root))
    assert code == 0, out[-3000:]
    assert f"at step {step_at_kill}" in out and "resuming" in out, "must continue the same run, not start over"
    assert "loading state from file" in out  # RAVE's own resume path
    final = runs.global_step(runs.newest_checkpoint(runs_dir))
    assert final > step_at_kill
    # the StepMeter's line at the end (and at each validation), and its record in the run folder
    assert f"step {final}/{final} · phase 1" in out, out[-2000:]
    progress = json.loads(max(runs_dir.rglob("progress.json"), key=lambda p: p.stat().st_mtime).read_text())
    assert progress["step"] == final and progress["final"] and progress["phases"]["1"]["steps"] == final - step_at_kill
    assert len({p.parent.parent.parent for p in runs_dir.rglob("*.ckpt")}) == 1, "one run, never a second"
    return final, out


def export_and_play(root, recipe, opts, config):
    code, out = finish(start("export", recipe, *opts, root=root))
    assert code == 0, out[-3000:]
    ts = root / "exports" / names.trained(recipe, config)
    assert ts.exists() and ts.with_suffix(".json").exists()
    assert not [p for p in ts.parent.iterdir() if p.name.startswith(".")], "no partial files left"
    # the disk-full sentence's estimate of an export (rave_pipeline/data/disk.py) is within 2x of the real one
    ckpt = json.loads(ts.with_suffix(".json").read_text())["checkpoint"]
    assert 0.5 < disk.export_bytes(Path(ckpt)) / ts.stat().st_size < 2, (disk.export_bytes(Path(ckpt)), ts.stat())
    model = torch.jit.load(str(ts))
    assert {"encode", "decode", "forward"} <= set(model.get_methods())
    torch.manual_seed(0)  # v2 models carry a noise generator
    with torch.no_grad():
        y = model.forward(torch.randn(1, 1, 2048) * 0.1)
    assert y.shape == (1, 1, 2048) and torch.isfinite(y).all()
    # NaN-guarded: a NaN block comes out silent where it was NaN, and the next block is finite ...
    x = torch.randn(1, 1, 3 * 2048) * 0.1
    x[..., 100] = float("nan")
    x[..., 200] = float("inf")
    with torch.no_grad():
        blocks = [model.forward(x[..., k : k + 2048]) for k in range(0, x.shape[-1], 2048)]
    assert all(torch.isfinite(b).all() for b in blocks)
    guards_hold(ts)
    # ... and for finite input it is acids-rave's own export, bit for bit (same cache state, same seed)
    plain = root / "unguarded"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "rave_pipeline.inside_rave.rave_cli",
            "export",
            "--run",
            str(runs.run_dir_of(runs.newest_checkpoint(root / "runs" / recipe))),
            "--streaming",
            "--output",
            str(plain),
            "--name",
            "u",
        ],
        env={**os.environ, "RAVE_PIPELINE_NAN_GUARD": "0", "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    unguarded, guarded = torch.jit.load(str(plain / ("u" + names.TRAINED_SUFFIX))), torch.jit.load(str(ts))
    assert list(guarded.get_methods()) == list(unguarded.get_methods())
    assert all(
        torch.equal(getattr(guarded, f"{m}_params"), getattr(unguarded, f"{m}_params")) for m in guarded.get_methods()
    )
    guarded.load_state_dict(unguarded.state_dict())  # each export leaves its own test-run in the caches
    x = torch.randn(1, 1, 4 * 2048) * 0.2
    outs = []
    for m in (unguarded, guarded):
        torch.manual_seed(3)
        with torch.no_grad():
            outs.append(torch.cat([m.forward(x[..., k : k + 2048]) for k in range(0, x.shape[-1], 2048)], -1))
    assert torch.equal(*outs)
    return ts


def blockwise(ts, method: str, x: torch.Tensor, block: int) -> list:
    """A fresh copy of the export, seeded, called block by block as a host calls it."""
    m = torch.jit.load(str(ts))
    torch.manual_seed(0)
    with torch.no_grad():
        return [getattr(m, method)(x[..., k : k + block]) for k in range(0, x.shape[-1], block)]


def guards_hold(ts) -> None:
    """Each guard of the trained export on its own: encode's input, decode's input, decode's output. A NaN
    plays exactly as a zero would, block after block (unguarded, the caches keep it: every later latent
    NaN, or decode's later blocks partly NaN)."""
    fresh, nan = (lambda: torch.jit.load(str(ts))), float("nan")
    x = torch.randn(1, 1, 6 * 2048) * 0.1
    silenced = x.clone()
    x[..., 5] = nan
    silenced[..., 5] = 0.0
    assert all(
        torch.equal(a, b) for a, b in zip(blockwise(ts, "encode", x, 2048), blockwise(ts, "encode", silenced, 2048))
    )
    m = fresh()
    dims, frames = int(m.decode_params[0]), 2048 // int(m.decode_params[1])
    z = torch.randn(1, dims, 6 * frames)
    zeroed = z.clone()
    z[..., 1] = nan
    zeroed[..., 1] = 0.0
    ys, ref = blockwise(ts, "decode", z, frames), blockwise(ts, "decode", zeroed, frames)
    assert all(torch.equal(a, b) for a, b in zip(ys, ref)) and ys[-1].abs().max() > 0, (
        "decode: a NaN latent plays as a zero one, and the blocks after it sound"
    )
    m = fresh()  # a run that diverged to NaN weights (a known RAVE failure): its export plays silence
    state = m.state_dict()
    weight = next(k for k in state if k.startswith("decoder") and k.endswith("weight"))
    state[weight] = torch.full_like(state[weight], nan)
    m.load_state_dict(state)
    with torch.no_grad():
        y = m.decode(torch.zeros(1, dims, frames))
    assert torch.isfinite(y).all() and not y.any(), "decode: NaN inside never reaches the host"


def exports_while_checkpoints_churn(root, opts) -> None:
    """Export while a trainer saves and prunes: every 0.3 s a new checkpoint is written in place (as Lightning
    writes it) and the one before is deleted. Each export holds the checkpoint it picked and succeeds."""
    import threading

    runs_dir = root / "runs/noise"
    source = runs.newest_checkpoint(runs_dir)
    data, stop = source.read_bytes(), threading.Event()

    def churn():
        previous = None
        for k in range(10**6):
            if stop.is_set():
                return
            new = source.parent / f"churn-step={k}.ckpt"
            with open(new, "wb") as f:
                for i in range(0, len(data), 1 << 20):
                    f.write(data[i : i + (1 << 20)])
            if previous:
                previous.unlink()
            previous = new
            time.sleep(0.3)

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(2):
            code, out = finish(start("export", "noise", *opts, root=root))
            assert code == 0 and "Traceback" not in out, out[-3000:]
    finally:
        stop.set()
        thread.join()
    assert not list((root / "runs").glob(".export-*")) and not list((root / "exports").glob(".staging-*"))


def test_noise_recipe_v2_small(tmp_path):
    noise_set(tmp_path / "datasets/noise/raw", 40)
    opts = ["--n-signal", "65536", "--max-steps", "15", "--val-every", "4", "--device", "cpu"]
    code, out = finish(start("preprocess", "noise", "--n-signal", "65536", root=tmp_path))
    assert code == 0, out
    final, out = kill_then_resume(tmp_path, "noise", opts, "SIGTERM")
    assert final == 15  # the last step is checkpointed even if RAVE did not validate there
    # after 3 untimed warm-up steps the resumed run's steps are timed: s/step and an ETA at the next validation
    assert re.search(r"step \d+/15 · phase 1 · [0-9.]+ s/step \(data wait \d+ %\) · ETA", out), out[-2000:]
    export_and_play(tmp_path, "noise", opts, "v2_small")
    exports_while_checkpoints_churn(tmp_path, opts)
    # FRESH archives, never deletes
    code, out = finish(
        start("train", "noise", *opts[:-2], "--max-steps", "4", "--device", "cpu", "--fresh", root=tmp_path)
    )
    assert code == 0 and "previous runs moved to" in out, out[-2000:]
    assert list((tmp_path / "runs").glob("noise.archived-*/**/*.ckpt"))


def test_voice_recipe_v2_at_its_smallest_n_signal(tmp_path):
    # v2 at n_signal 71680 needs 151 chunks of 143360 samples (RAVE's validation PCA): 8.5 min of audio
    noise_set(tmp_path / "datasets/voice/raw", 8.5 * 60, files=3)
    opts = ["--n-signal", "71680", "--max-steps", "6", "--val-every", "3", "--device", "cpu", "--augment", "compress"]
    code, out = finish(start("preprocess", "voice", "--n-signal", "71680", root=tmp_path))
    assert code == 0, out
    final, _ = kill_then_resume(tmp_path, "voice", opts, "SIGKILL")
    assert final == 6
    export_and_play(tmp_path, "voice", opts, "v2")


def test_rave_killed_at_a_random_moment_resumes(tmp_path):
    noise_set(tmp_path / "datasets/noise/raw", 40)
    opts = ["--n-signal", "65536", "--max-steps", "12", "--val-every", "3", "--device", "cpu"]
    code, out = finish(start("preprocess", "noise", "--n-signal", "65536", root=tmp_path))
    assert code == 0, out
    kill_then_resume(tmp_path, "noise", opts, "child")
