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


def test_phase_2_starts_after_phase_1_duration_steps_and_best_is_rave_s_best_else_the_lowest_score(tmp_path):
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
    # RAVE's own best.ckpt (its ModelCheckpoint on the validation loss) wins over any score recorded beside
    torch.save(
        {"global_step": 5, "callbacks": {"ModelCheckpoint{'monitor': 'validation'}": {"best_model_score": 0.9}}},
        folder / "best.ckpt",
    )
    best = checkpoints.pick(runs_dir, "best", "noise")
    assert (best.path.name, best.step, best.phase, best.validation) == ("best.ckpt", 5, 2, 0.9)
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
    third, edited = built(), recipe.raw_dir / "new.wav"
    size = edited.stat().st_size
    sox_noise(edited, 4, kind="whitenoise")  # edited in place: another sound of the same length and size
    assert edited.stat().st_size == size
    preprocess(recipe)
    assert built() != third, "a file edited in place at the same size is new audio"


class Streams(torch.nn.Module):
    """What rave export might write: a model that streams a block (ok), or one that shortens it or fills it
    with NaN."""

    def __init__(self, how: str):
        super().__init__()
        self.how = how

    def forward(self, x):
        if self.how == "short":
            return x[..., :64]
        if self.how == "nan":
            return x * float("nan")
        return 0.5 * x


@pytest.mark.parametrize("how", ["ok", "not a model", "short", "nan"])
def test_an_export_is_published_only_if_it_loads_and_streams_a_block(tmp_path, monkeypatch, how):
    """make export-*'s last step, after rave export: the file lands in exports/ only if it loads and maps a
    2048-sample block to 2048 finite samples; otherwise one sentence and nothing where a host would load it."""
    from types import SimpleNamespace

    from rave_pipeline.commands import export

    def rave_export(recipe, cmd, produced, held, run_dir):
        produced.parent.mkdir(parents=True, exist_ok=True)
        if how == "not a model":
            produced.write_bytes(b"PK\x03\x04 cut short")
        else:
            torch.jit.script(Streams(how)).save(str(produced))
        return produced

    held = tmp_path / "held"
    monkeypatch.setattr(export, "hold", lambda *a: (SimpleNamespace(path=held, step=5, phase=1), tmp_path, held, True))
    monkeypatch.setattr(export, "run_rave_export", rave_export)
    monkeypatch.setattr(export, "manifest", lambda *a: {"kind": "trained"})
    final = tmp_path / "exports/noise.ts"
    recipe = recipes.load("noise", root=tmp_path)
    if how == "ok":
        assert export.export(recipe, final=final) == final and final.with_suffix(".json").exists()
        return
    with pytest.raises(UserError, match="not publishing it"):
        export.export(recipe, final=final)
    assert sorted(p.name for p in final.parent.iterdir()) == [], "nothing a host would load, nothing half-written"


def test_skipped_files_are_counted_by_the_reason_their_warning_gave(tmp_path):
    from rave_pipeline.data.accounting import account

    recipe = recipes.load("noise", root=tmp_path)
    skipped = [
        {"file": "a.wav", "why": "vanished while preprocessing (deleted or moved)"},
        {"file": "b.wav", "why": "unreadable: no read permission"},
        {"file": "c.wav", "why": "vanished while preprocessing (deleted or moved)"},
    ]
    report = {"found_s": 10.0, "left_s": 0.0, "kept": [], "skipped": skipped}
    summary = account(recipe, report, 0)["summary"]
    assert summary.endswith("; 3 file(s) skipped: 2 vanished while preprocessing, 1 unreadable"), summary


@pytest.mark.parametrize("case", ["loop", "dangling", "file"])
def test_a_raw_folder_that_is_a_symlink_loop_or_a_file_is_named_as_one(tmp_path, case):
    from rave_pipeline.data.recordings import raw_files

    raw = tmp_path / "raw"
    if case == "loop":
        raw.symlink_to(raw)
    elif case == "dangling":
        raw.symlink_to(tmp_path / "gone")
    else:
        raw.write_text("")
    says = {"loop": "back to itself", "dangling": "leads nowhere", "file": "is a file, not a folder"}[case]
    with pytest.raises(UserError, match=says):
        raw_files(raw)


def test_one_timeline_of_a_run_at_a_time_its_report_under_the_root_it_reads(tmp_path, capsys):
    from rave_to_chaos.timeline import main

    out = tmp_path / "reports/timeline-noise"  # <ROOT>/reports/timeline-<run>, not the checkout's
    from rave_pipeline.commands import runs

    with runs.exclusive(out.parent / ".timeline-noise.lock", out):
        with pytest.raises(SystemExit) as stop:
            main(["noise", "--root", str(tmp_path), "--jobs", "1"])
    assert stop.value.code == 2
    assert f"{out} is being written by a timeline by another process (pid {os.getpid()})" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # free: it goes on, to the run's checkpoints (none here)
        main(["noise", "--root", str(tmp_path), "--jobs", "1"])
    assert "no checkpoint in" in capsys.readouterr().err


def test_ckpt_names_what_is_wrong_with_the_file_given(tmp_path):
    """CKPT=<path>: a file that is not a checkpoint, one outside any run folder, one of a run trained with
    another RAVE config than the recipe's: each one sentence, before rave export runs."""
    from rave_pipeline.commands import export

    noise = recipes.load("noise", root=tmp_path)
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(UserError, match="is not a checkpoint"):
        checkpoints.pick(noise.runs_dir, str(text), "noise")
    save(tmp_path / "loose", "epoch=1.ckpt", 1)
    with pytest.raises(UserError, match="no config.gin in any folder above .* inside its run folder"):
        checkpoints.pick(noise.runs_dir, str(tmp_path / "loose/epoch=1.ckpt"), "noise")
    save(tmp_path / "runs/noise/noise_abc/version_0/checkpoints", "epoch=9.ckpt", 9)  # the recipe's own run
    (tmp_path / "runs/noise/noise_abc/config.gin").write_text("N_BAND = 16\nRATIOS = [4, 2, 2, 2]\n")
    voice_run = tmp_path / "runs/voice/voice_abc"
    save(voice_run / "version_0/checkpoints", "epoch=3.ckpt", 3)
    (voice_run / "config.gin").write_text("CAPACITY = 96\nN_BAND = 16\nRATIOS = [4, 4, 4, 2]\n")  # as v2 writes it
    ckpt = voice_run / "version_0/checkpoints/epoch=3.ckpt"
    with pytest.raises(UserError, match="was trained with RAVE v2, not v2_small as recipe noise is"):
        export.hold(noise, tmp_path / "held", str(ckpt))
    voice = recipes.load("voice", root=tmp_path)
    assert export.hold(voice, tmp_path / "held", str(ckpt))[0].step == 3, "its own recipe exports it"


@pytest.mark.parametrize("text,fresh", [("0", False), ("no", False), ("", False), ("1", True), ("yes", True)])
def test_fresh_0_keeps_the_run_and_every_0_is_one_sentence(text, fresh):
    """make VAR=value as the command reads it (--from-make): FRESH=0 is no, EVERY must be at least 1."""
    import argparse

    from rave_pipeline.commands import options

    args = argparse.Namespace(fresh=False, every=None)
    options.from_environment(args, {"FRESH": text, "EVERY": "3"})
    assert (args.fresh, args.every) == (fresh, 3)
    with pytest.raises(UserError, match="EVERY"):
        options.from_environment(argparse.Namespace(every=None), {"EVERY": "0"})


def test_an_export_s_size_is_estimated_from_the_generator_s_weights_alone(tmp_path):
    """1.4 bytes of export per byte of encoder/decoder/pqmf weights; the discriminator's never travel."""
    from rave_pipeline.data import disk

    state = {"encoder.w": torch.zeros(1000, 250), "decoder.w": torch.zeros(500, 500), "pqmf.h": torch.zeros(100)}
    state["discriminator.w"] = torch.zeros(3000, 1000)
    torch.save({"state_dict": state, "global_step": 1}, tmp_path / "a.ckpt")
    assert disk.export_bytes(tmp_path / "a.ckpt") == pytest.approx(1.4 * 4 * (250_000 + 250_000 + 100))
    (tmp_path / "b.ckpt").write_bytes(b"x" * 2800)  # unreadable: a checkpoint is ~2.8x its export
    assert disk.export_bytes(tmp_path / "b.ckpt") == pytest.approx(1000)


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_a_killed_rave_export_is_reported_as_killed_by_its_signal(tmp_path, sig):
    import sys

    from rave_pipeline.commands.export import run_rave_export

    recipe = recipes.load("noise", root=tmp_path)
    suicide = [sys.executable, "-c", f"import os, signal; os.kill(os.getpid(), signal.{sig})"]
    staging = tmp_path / "exports/.staging-noise-1"
    with pytest.raises(UserError) as e:
        run_rave_export(recipe, suicide, staging / "noise.ts", tmp_path / "held.ckpt", tmp_path / "run")
    number = {"SIGKILL": 9, "SIGTERM": 15}[sig]
    assert str(e.value).startswith(f"rave export was killed ({sig}, signal {number})")
    assert str(e.value).endswith("nothing was published: run make export-noise again")
    assert ("out-of-memory killer" in str(e.value)) == (sig == "SIGKILL")
