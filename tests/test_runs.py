"""A run's files as the pipeline decides on them: which checkpoint is which phase and which is best, whether a
database is staged to scratch, whether a database fits the recipe. Fast: checkpoints are small torch.save files
laid out as rave train lays them out, databases are folders with a fingerprint."""

import json
import os
import subprocess

import pytest
import torch

from rave_pipeline.commands import checkpoints, recipes
from safeio import UserError


def save(folder, name, step, **ours):
    folder.mkdir(parents=True, exist_ok=True)
    state = {"global_step": step, "w": torch.zeros(4)}
    if ours:
        state["rave_to_chaos"] = ours
    torch.save(state, folder / name)
    os.utime(folder / name, (step, step))  # oldest first by mtime, as rave train wrote them


def test_phase_2_starts_after_phase_1_duration_steps_and_best_is_the_lowest_validation(tmp_path):
    runs_dir = tmp_path / "runs/noise"
    (runs_dir / "settings.json").parent.mkdir(parents=True)
    (runs_dir / "settings.json").write_text(json.dumps({"phase_1_duration": 4}))
    folder = runs_dir / "noise_abc/version_0/checkpoints"
    for step in (3, 4, 5):
        save(folder, f"epoch={step}.ckpt", step)  # RAVE's own: the phase from the step
    save(folder, "timeline-6.ckpt", 6, phase=2, validation=0.7, validation_step=6)
    save(folder, "timeline-7.ckpt", 7, phase=2, validation=0.4, validation_step=7)
    save(folder, "timeline-8.ckpt", 8, phase=2, validation=0.9, validation_step=8)
    (runs_dir / "noise_abc/config.gin").write_text("")
    found = checkpoints.listing(runs_dir)
    assert [(c.step, c.phase) for c in found] == [(3, 1), (4, 1), (5, 2), (6, 2), (7, 2), (8, 2)]
    assert checkpoints.pick(runs_dir, "best", "noise").step == 7
    assert checkpoints.pick(runs_dir, "4", "noise").path.name == "epoch=4.ckpt"
    with pytest.raises(UserError, match="CKPT=9 matches no checkpoint"):
        checkpoints.pick(runs_dir, "9", "noise")


def database(recipe, size: int) -> None:
    recipe.db_dir.mkdir(parents=True)
    with open(recipe.db_dir / "data.mdb", "wb") as f:
        f.write(os.urandom(size))
    (recipe.db_dir / "fingerprint.json").write_text('{"fingerprint": "abc123", "chunks": 1}')


@pytest.fixture
def scratch(tmp_path):
    """A 4 MB tmpfs as a node's scratch disk."""
    where = tmp_path / "scratch"
    where.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    yield where
    subprocess.run(["umount", str(where)])


@pytest.mark.parametrize("share", [0.5, 0.97])
def test_a_database_is_staged_only_when_it_fits_the_scratch_disk_with_5_percent_spare(
    tmp_path, scratch, monkeypatch, share, capsys
):
    from rave_pipeline.data import stage

    recipe = recipes.load("noise", root=tmp_path)
    free = os.statvfs(scratch).f_bavail * os.statvfs(scratch).f_frsize
    database(recipe, int(share * free))
    monkeypatch.setenv("STAGE_DIR", str(scratch))
    monkeypatch.delenv("SLURM_TMPDIR", raising=False)
    db = stage.stage(recipe)
    if share < 1 / 1.05:
        assert db.parent.parent == scratch / "rave-pipeline" and (db / "data.mdb").stat().st_size == int(share * free)
    else:  # it would fit, but with less than 5 % to spare: trained in place, and said so
        assert db == recipe.db_dir and "not staging the database" in capsys.readouterr().err
        assert not list(scratch.rglob("*.mdb")), "nothing half-copied is left on the scratch disk"


def test_a_database_cut_for_another_n_signal_or_too_small_is_refused_before_training(tmp_path):
    from rave_pipeline.data.dataset import check_size

    recipe = recipes.load("noise", root=tmp_path)
    recipe.db_dir.mkdir(parents=True)
    need = recipe.min_chunks(8)
    record = {"fingerprint": "x", "chunks": need, "seconds": 600.0, "n_signal": recipe.n_signal}
    (recipe.db_dir / "fingerprint.json").write_text(json.dumps(record))
    assert check_size(recipe, 8) == need
    (recipe.db_dir / "fingerprint.json").write_text(json.dumps({**record, "chunks": need - 1}))
    with pytest.raises(UserError, match="Add at least"):
        check_size(recipe, 8)
    (recipe.db_dir / "fingerprint.json").write_text(json.dumps({**record, "n_signal": recipe.n_signal * 2}))
    with pytest.raises(UserError, match=f"was cut for n_signal {recipe.n_signal * 2}, not {recipe.n_signal}"):
        check_size(recipe, 8)


def test_a_database_is_rebuilt_only_when_its_recordings_change_or_when_forced(tmp_path, capsys):
    from helpers.audio import noise_set, sox_noise
    from rave_pipeline.data.dataset import preprocess

    recipe = recipes.load("noise", root=tmp_path, n_signal=65536)
    noise_set(recipe.raw_dir, 20)
    built = lambda: (recipe.db_dir / "fingerprint.json").stat().st_mtime_ns
    preprocess(recipe)
    first = built()
    preprocess(recipe)
    assert built() == first and "is up to date" in capsys.readouterr().out
    preprocess(recipe, force=True)
    assert built() != first
    record = lambda: json.loads((recipe.db_dir / "fingerprint.json").read_text())
    second, seconds = built(), record()["seconds"]
    sox_noise(recipe.raw_dir / "new.wav", 4)
    preprocess(recipe)
    assert built() != second and record()["seconds"] > seconds
