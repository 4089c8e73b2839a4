"""What protects a user's files: atomic writes, the one-trainer lock (also across FRESH=1)."""

import json

import pytest

from helpers.cli import run_cli
from rave_pipeline.commands import recipes, runs
from safeio import atomic_path, atomic_write_text


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "model.ts"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["model.ts"]
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["model.ts"]


def fake_database(root, recipe="noise"):
    """A database stamp big enough for the size check (training never starts in these tests)."""
    r = recipes.load(recipe, root=root)
    r.db_dir.mkdir(parents=True)
    (r.db_dir / "fingerprint.json").write_text(json.dumps({"n_signal": r.n_signal, "chunks": 10**4, "seconds": 10**5}))
    return r


@pytest.mark.parametrize("fresh", [False, True])
def test_a_second_trainer_is_refused_while_the_first_holds_the_run(tmp_path, fresh):
    r = fake_database(tmp_path)
    (r.runs_dir / "noise_abc").mkdir(parents=True)
    with runs.exclusive(runs.lock_of(r.runs_dir), r.runs_dir):
        out = run_cli(
            "-m",
            "rave_pipeline",
            "train",
            "noise",
            "--root",
            str(tmp_path),
            "--device",
            "cpu",
            *(["--fresh"] if fresh else []),
        )
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"{r.runs_dir} is being trained by another process (pid " in out.stderr
    assert (r.runs_dir / "noise_abc").is_dir() and not list(tmp_path.glob("runs/noise.archived-*")), (
        "FRESH=1 moved nothing"
    )


def test_fresh_moves_the_whole_run_and_never_the_lock(tmp_path):
    r = fake_database(tmp_path)
    (r.runs_dir / "noise_abc").mkdir(parents=True)
    with runs.exclusive(runs.lock_of(r.runs_dir), r.runs_dir):
        moved = runs.archive(r.runs_dir)
    assert (moved / "noise_abc").is_dir() and not r.runs_dir.exists()
    assert runs.lock_of(r.runs_dir).exists() and not (moved / ".lock").exists()


def test_rave_s_process_holds_the_run_after_its_wrapper_is_killed(tmp_path):
    """kill -9 of the wrapper: RAVE is told to stop (SIGTERM) and takes a while to checkpoint; until it exits,
    it holds the run's lock it inherited, so a requeued job cannot train beside it. Here a child that takes
    3 s to stop stands in for RAVE."""
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    from safeio import UserError

    runs_dir, log = tmp_path / "runs/noise", tmp_path / "train.log"
    child = "import signal, time; signal.signal(signal.SIGTERM, lambda *a: print('stopping', flush=True)); "
    child += "print('training', flush=True); time.sleep(3)"
    wrapper = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from rave_pipeline.commands import runs, supervise
        with runs.exclusive(runs.lock_of(Path({str(runs_dir)!r})), Path({str(runs_dir)!r})) as fd:
            supervise.run_forwarding_signals([sys.executable, "-c", {child!r}], None, Path({str(log)!r}), fd)
    """)
    proc = subprocess.Popen([sys.executable, "-c", wrapper])
    for _ in range(300):  # until RAVE's stand-in runs
        if log.exists() and "training" in log.read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with pytest.raises(UserError, match="is being trained by another process"):
        with runs.exclusive(runs.lock_of(runs_dir), runs_dir):
            pass
    for _ in range(200):  # it stops within its 3 s; then the run is free again
        try:
            with runs.exclusive(runs.lock_of(runs_dir), runs_dir):
                break
        except UserError:
            time.sleep(0.05)
    else:
        pytest.fail("the run stayed locked after RAVE's stand-in exited")
    assert "stopping" in log.read_text(), "the wrapper's death reached it as SIGTERM"


def test_the_nan_guards_keep_bad_samples_out_of_rave_s_caches_and_out_of_the_host():
    """The functions nan_guard compiles into trained exports, around stand-ins for acids-rave's methods that
    record what reaches them (tests/test_rave_training.py checks the guards inside a real export)."""
    import torch

    from rave_pipeline.inside_rave.nan_guard import guarded_decode, guarded_encode

    class Unguarded:
        def encode_unguarded(self, x):
            self.reached = x
            return x

        def decode_unguarded(self, z, from_forward):
            self.reached = z
            return torch.full_like(z, float("nan"))  # a decoder whose output went bad

    bad = torch.tensor([[[0.5, float("nan"), float("inf"), -float("inf")]]])
    model = Unguarded()
    assert torch.equal(guarded_encode(model, bad), torch.tensor([[[0.5, 0.0, 0.0, 0.0]]]))
    assert torch.equal(model.reached, torch.tensor([[[0.5, 0.0, 0.0, 0.0]]]))
    out = guarded_decode(model, bad)
    assert torch.equal(model.reached, torch.tensor([[[0.5, 0.0, 0.0, 0.0]]])) and torch.equal(out, torch.zeros(1, 1, 4))


# Where a writer can die, as the code names its working files: (folder under ROOT, what the killed process made)
KILLED_AT = {
    "publishing an export": ("exports", "atomic"),  # .<export>.partial-<pid>
    "rave export writing": ("exports", "staging"),  # .staging-noise-<pid>/
    "a timeline's export": ("exports/timeline/noise", "staging"),
    "a timeline's report": ("reports/timeline-noise", "atomic"),  # .metrics.json.partial-<pid>
    "holding a checkpoint": ("runs", "holding"),  # .export-noise-<pid>/ beside the runs
}
DIES = """
import os, signal, sys
from pathlib import Path
from safeio.files import atomic_path
folder, kind = Path(sys.argv[1]), sys.argv[2]
folder.mkdir(parents=True, exist_ok=True)
if kind == "atomic":
    with atomic_path(folder / "model.ts") as tmp:
        tmp.write_bytes(b"half" * 1000)
        os.kill(os.getpid(), signal.SIGKILL)
name = {"staging": ".staging-noise-", "holding": ".export-noise-"}[kind] + str(os.getpid())
(folder / name).mkdir()
(folder / name / "noise.ts").write_bytes(b"half" * 1000)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_what_a_kill_9_leaves_anywhere_under_root_goes_at_the_next_command_with_one_line(tmp_path):
    import os
    import subprocess
    import sys

    root = tmp_path / "root"
    for folder, kind in KILLED_AT.values():
        r = subprocess.run([sys.executable, "-c", DIES, str(root / folder), kind], capture_output=True, timeout=60)
        assert r.returncode == -9, r.stderr
    left = sorted(p.relative_to(root) for p in root.rglob(".*"))
    assert len(left) == len(KILLED_AT), left
    alive = root / "exports" / f".staging-voice-{os.getpid()}"  # a running export's: kept
    alive.mkdir()
    r = run_cli(
        "-m", "rave_pipeline", "preprocess", "noise", "--root", str(root)
    )  # any command (this one then fails: no recordings)
    assert "removed what a killed export, training or timeline left: " in r.stdout, r.stdout + r.stderr
    assert [p for p in root.rglob(".*") if p.name != ".lock"] == [alive] and "and 2 more" in r.stdout
    assert (root / "exports/timeline/noise").is_dir() and not list((root / "reports/timeline-noise").iterdir())
