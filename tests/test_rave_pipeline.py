"""RAVE pipeline wrappers: recipes, input checking, preprocessing, and clear errors (fast tests)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.audio import float_wav_with_nan, noise_set, sample_library, sox_noise, truncated_wav, zero_length_wav
from helpers.cli import run_cli
from rave_pipeline.commands import recipes
from safeio import UserError
from spec.host import SR


def pipe(*args, env=None):
    return run_cli("-m", "rave_pipeline", *map(str, args), env=env)


def test_recipes_state_what_the_issue_asks():
    noise, voice = recipes.load("noise"), recipes.load("voice")
    assert noise.config == "v2_small" and "mute" in noise.augment
    assert voice.config == "v2"
    for r in (noise, voice):
        assert set(r.batch_by_gpu_gb) == {8, 12, 16, 24, 40, 80, 141}  # 141: an H200
        batches = [r.batch_by_gpu_gb[k] for k in sorted(r.batch_by_gpu_gb)]
        assert batches == sorted(batches), "more memory never means a smaller batch"
        assert r.n_signal and r.sampling_rate and r.channels and r.max_steps and r.val_every and r.save_every
        assert r.gin_path.exists()


def test_batch_table_lookup():
    r = recipes.load("voice")
    assert r.batch_for_gpu(85.0) == r.batch_by_gpu_gb[80]  # an H100 "80 GB" reports 85e9 bytes
    assert r.batch_for_gpu(25.4) == r.batch_by_gpu_gb[24]
    assert r.batch_for_gpu(6.0) is None


def test_overrides_and_bad_recipes(tmp_path):
    assert recipes.load("noise", n_signal=65536).n_signal == 65536
    import argparse

    from rave_pipeline.__main__ import recipe_from

    cli = dict(
        recipe="noise",
        root=None,
        n_signal=None,
        max_steps=None,
        val_every=None,
        save_every=None,
        raw=None,
        exports=None,
        tag=None,
    )
    assert recipe_from(argparse.Namespace(**cli, augment="none")).augment == []  # make ... AUGMENT=none
    assert recipe_from(argparse.Namespace(**cli, augment="mute,compress")).augment == ["mute", "compress"]
    with pytest.raises(UserError, match="recipe 'nope' not found"):
        recipes.load("nope")
    with pytest.raises(UserError, match="too small for RAVE v2"):
        recipes.load("voice", n_signal=65536)
    bad = tmp_path / "bad.toml"
    bad.write_text('config = "v2"\nbatchsize = 3\n')
    with pytest.raises(UserError, match="unknown field"):
        recipes.load(str(bad))


@pytest.mark.parametrize(
    "field,value,floor",
    [
        ("n_signal", 0, 1),
        ("max_steps", 0, 1),
        ("val_every", -5, 1),
        ("save_every", 0, 1),
        ("cpu_batch", 0, 1),
        ("channels", 0, 1),
        ("sampling_rate", 0, 1),
        ("workers", -1, 0),
        ("n_signal", 1.5, 1),
    ],
)
def test_a_recipe_file_with_a_value_below_its_floor_is_one_sentence(tmp_path, field, value, floor):
    text = (recipes.CONFIGS / "noise.toml").read_text()
    bad = tmp_path / "mine.toml"
    bad.write_text(
        "\n".join(f"{field} = {value}" if line.split("=")[0].strip() == field else line for line in text.splitlines())
    )
    with pytest.raises(UserError) as e:
        recipes.load(str(bad))
    assert str(e.value) == f"{field}={value} in recipe mine is not a whole number of {floor} or more"
    bad.write_text(text)
    assert recipes.load(str(bad)).name == "mine", "the same file with the recipe's own value loads"


@pytest.mark.parametrize(
    "config,n_signal,batch,expected",
    [
        ("v2", 131072, 2, 51),  # 2 validation chunks of 64 latent frames for the 128-component PCA
        ("v2", 71680, 2, 151),  # 35 frames per chunk -> 4 validation chunks -> 151
        ("v2_small", 65536, 2, 3),  # 128 frames per chunk -> 1 validation chunk; 2 for one batch
    ],
)
def test_min_chunks_matches_raves_split_and_pca(config, n_signal, batch, expected):
    r = recipes.load("voice" if config == "v2" else "noise", n_signal=n_signal)
    n = r.min_chunks(batch)
    assert n == expected
    val = lambda k: k - (98 * k) // 100  # rave.dataset.split_dataset
    assert (
        val(n) * n_signal // r.compression >= 128
        and val(n - 1) * n_signal // r.compression < 128
        or n - val(n) == batch
    )


def db_chunks(db: Path) -> list[np.ndarray]:
    """Every chunk of a rave preprocess database as int16 [channels, n], read as RAVE's loader does."""
    import lmdb
    from udls.generated import AudioExample

    env = lmdb.open(str(db), readonly=True, lock=False)
    with env.begin() as txn:
        out = []
        for _, value in txn.cursor():
            buf = AudioExample.FromString(value).buffers["waveform"]
            out.append(np.frombuffer(buf.data, np.int16).reshape(buf.shape[0], -1))  # its shape[1] counts bytes
    env.close()
    return out


def test_preprocess_converts_repairs_and_skips(tmp_path):
    raw = tmp_path / "datasets" / "noise" / "raw"
    noise_set(raw, 12)
    sox_noise(raw / "sub dir" / "stereo 96k.wav", 4, sr=96000, channels=2)
    sox_noise(raw / "8bit.wav", 4, sr=22050, bits=8)
    float_wav_with_nan(raw / "nan.wav")
    truncated_wav(raw / "truncated.wav")
    zero_length_wav(raw / "empty.wav")
    (raw / "notes.txt").write_text("not audio")
    hot = 1.5 * np.sin(2 * np.pi * 220 * np.arange(6 * SR) / SR)  # a float file peaking above full scale
    sf.write(str(raw / "hot float.wav"), hot.astype(np.float32), SR, subtype="FLOAT")
    (raw / "broken.flac").write_bytes(b"fLaC garbage" * 10)

    r = pipe("preprocess", "noise", "--root", tmp_path, "--n-signal", 65536)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "1 file(s) had NaN/inf samples, replaced by silence:" in r.stderr and "nan.wav (100 samples)" in r.stderr
    assert "notes.txt (not audio or corrupt)" in r.stderr and "broken.flac" in r.stderr
    assert "empty.wav" in r.stderr
    assert "1 file(s) peaked above full scale (up to 1.50x" in r.stderr
    sources = json.loads((tmp_path / "datasets/noise/db/sources.json").read_text())
    kept = {os.path.basename(f) for s in sources for f in s.get("sources", [s.get("source")])}
    assert {"stereo 96k.wav", "8bit.wav", "nan.wav", "truncated.wav", "take 0 ü.wav"} <= kept
    assert not (tmp_path / "datasets/noise/clean").exists(), "the working folder is removed"
    chunks = db_chunks(tmp_path / "datasets/noise/db")
    assert {c.shape for c in chunks} == {(1, 2 * 65536)}
    # NaN and peaks above full scale reach the int16 database as full-scale samples: neither got in
    assert max(int(np.abs(c.astype(np.int32)).max()) for c in chunks) <= 0.99 * 32767 + 1
    info = json.loads((tmp_path / "datasets/noise/db/fingerprint.json").read_text())
    assert info["chunks"] >= 5

    again = pipe("preprocess", "noise", "--root", tmp_path, "--n-signal", 65536)
    assert "up to date" in again.stdout
    sox_noise(raw / "new take.wav", 4)
    third = pipe("preprocess", "noise", "--root", tmp_path, "--n-signal", 65536)
    assert "up to date" not in third.stdout and third.returncode == 0
    assert not list((tmp_path / "datasets/noise").glob("db.*")), "no temporary database left behind"


def test_empty_raw_folder(tmp_path):
    (tmp_path / "datasets/noise/raw").mkdir(parents=True)
    r = pipe("preprocess", "noise", "--root", tmp_path)
    assert r.returncode == 2 and "is empty: put recordings there" in r.stderr and "Traceback" not in r.stderr


def test_only_unusable_files(tmp_path):
    raw = tmp_path / "datasets/noise/raw"
    raw.mkdir(parents=True)
    (raw / "a.txt").write_text("x")
    r = pipe("preprocess", "noise", "--root", tmp_path)
    assert r.returncode == 2 and "no usable audio" in r.stderr


def test_dataset_too_small_is_caught_before_training(tmp_path):
    noise_set(tmp_path / "datasets/voice/raw", 30)
    assert pipe("preprocess", "voice", "--root", tmp_path).returncode == 0
    r = pipe("train", "voice", "--root", tmp_path, "--device", "cpu")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    # 30 s in two files: 2 whole chunks each + the joined tails = 5 chunks of 5.9 s; RAVE v2 needs 51
    assert "it holds 5 chunks of 5.9 s (30 s of audio), and RAVE needs 51" in r.stderr
    assert "Add at least 273 s of recordings" in r.stderr and "no N_SIGNAL fits 30 s of audio" in r.stderr


def test_a_global_batch_beyond_the_training_examples_is_one_sentence_before_training(tmp_path):
    noise_set(tmp_path / "datasets/noise/raw", 40)
    assert pipe("preprocess", "noise", "--root", tmp_path, "--n-signal", "65536").returncode == 0
    # 40 s -> 13 chunks, 12 to train on: batch 4 fits one process, not 4 x 4 = 16
    r = pipe(
        "train", "noise", "--root", tmp_path, "--device", "cpu", "--n-signal", "65536", "--procs", "4", "--batch", "4"
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "batch 4 per process × 4 processes = 16 examples per step, more than the database's 12 training" in r.stderr
    assert not (tmp_path / "runs").exists(), "nothing started"


def test_train_without_database(tmp_path):
    r = pipe("train", "noise", "--root", tmp_path, "--device", "cpu")
    assert r.returncode == 2 and "run make preprocess-noise first" in r.stderr


def test_export_without_checkpoint(tmp_path):
    r = pipe("export", "noise", "--root", tmp_path)
    assert r.returncode == 2 and "no checkpoint in" in r.stderr and "run make train-noise first" in r.stderr


def test_ffmpeg_missing(tmp_path):
    noise_set(tmp_path / "datasets/noise/raw", 4, files=1)
    r = pipe("preprocess", "noise", "--root", tmp_path, env={"PATH": "/nonexistent"})
    assert r.returncode == 2 and "ffmpeg not found: run make setup" in r.stderr


def test_compress_augmentation_runs_on_torchaudio_29():
    """RAVE's own RandomCompress, through the sox-CLI stand-in for the removed torchaudio.sox_effects."""
    from rave_pipeline.inside_rave import sox_compat

    sox_compat.install()
    from rave.transforms import RandomCompress

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((1, SR)) * np.linspace(0.01, 0.9, SR)).astype(np.float32)
    y = RandomCompress(prob=1.0, threshold=-40, amp_range=[-20, -20])(x)
    assert y.shape == x.shape and np.isfinite(y).all()
    loud, quiet = slice(-4410, None), slice(0, 4410)
    ratio_in = np.abs(x[:, loud]).mean() / np.abs(x[:, quiet]).mean()
    ratio_out = np.abs(y[:, loud]).mean() / np.abs(y[:, quiet]).mean()
    assert ratio_out < 0.8 * ratio_in, "a compressor narrows the dynamic range"


def test_sox_stand_in_matches_sox_on_files(tmp_path):
    """Same samples as sox run file to file, stereo included (checks the interleaving)."""
    import subprocess

    import torch

    from rave_pipeline.inside_rave.sox_compat import apply_effects_tensor

    x = (np.random.default_rng(1).standard_normal((2, 22050)) * 0.3).astype(np.float32)
    effect = ["compand", "0.1,0.1", "6:-80,-40,-10"]
    y, sr = apply_effects_tensor(torch.from_numpy(x), SR, [effect])
    sf.write(tmp_path / "in.wav", x.T, SR, subtype="FLOAT")
    subprocess.run(
        ["sox", str(tmp_path / "in.wav"), "-e", "floating-point", "-b", "32", str(tmp_path / "out.wav"), *effect],
        check=True,
    )
    ref, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sr == SR and y.shape == (2, 22050)
    np.testing.assert_array_equal(y.numpy(), ref.T)


def test_database_staged_to_scratch_verified_reused_and_removed(tmp_path, monkeypatch, capsys):
    from rave_pipeline.commands import recipes
    from rave_pipeline.data import stage

    recipe = recipes.load("noise", root=tmp_path)
    recipe.db_dir.mkdir(parents=True)
    (recipe.db_dir / "data.mdb").write_bytes(b"x" * 1000)
    (recipe.db_dir / "metadata.yaml").write_text("lazy: false\n")
    (recipe.db_dir / "fingerprint.json").write_text('{"fingerprint": "abc123", "chunks": 1}')

    monkeypatch.delenv("SLURM_TMPDIR", raising=False)
    monkeypatch.delenv("STAGE_DIR", raising=False)
    assert stage.stage(recipe) == recipe.db_dir  # no scratch: train from the database itself
    monkeypatch.setenv("SLURM_TMPDIR", str(tmp_path / "node"))
    copy = stage.stage(recipe)
    assert copy.parent.parent == tmp_path / "node" / "rave-pipeline" and (copy / "data.mdb").read_bytes() == b"x" * 1000
    assert stage.stage(recipe) == copy and "reusing the copy" in capsys.readouterr().out  # a requeue on this node
    (copy / "data.mdb").write_bytes(b"x" * 10)  # a copy cut short is not trusted
    assert stage.stage(recipe) == copy and (copy / "data.mdb").stat().st_size == 1000
    assert not list(copy.parent.glob("db.tmp-*"))
    stage.unstage(recipe, copy)
    assert not copy.parent.exists()
    monkeypatch.setenv("STAGE_DIR", "none")  # explicit opt-out wins over SLURM_TMPDIR
    assert stage.stage(recipe) == recipe.db_dir


def test_a_library_of_short_files_reaches_the_database(tmp_path):
    raw = tmp_path / "datasets/noise/raw"
    total = sample_library(raw, 80, high=2.9)  # 0.5-2.9 s each: every file shorter than one 2.97 s chunk
    r = pipe("preprocess", "noise", "--root", tmp_path, "--n-signal", 65536)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    acc = json.loads((tmp_path / "datasets/noise/db/accounting.json").read_text())
    assert acc["found_s"] == pytest.approx(total, abs=0.05)
    assert acc["in_database_s"] >= 0.95 * total, acc["summary"]
    assert acc["dropped_s"] < acc["chunk_s"], "only the last partial chunk of the joined audio is lost"
    assert [d["seconds"] for d in acc["dropped"]] == [pytest.approx(acc["dropped_s"], abs=1e-3)]
    share = 100 * acc["in_database_s"] / acc["found_s"]
    assert f"{acc['in_database_s']:.1f} s in the database ({share:.1f} %)" in r.stdout
    first = db_chunks(tmp_path / "datasets/noise/db")[0][0] / 32767  # the joined audio's start
    assert np.abs(first[:20]).max() < 0.01 < np.abs(first[2000:3000]).max(), (
        "each piece fades in (and out): no click at a seam"
    )
    from rave_pipeline.data.recordings import faded

    y = faded(np.ones((1, SR), np.float32), SR)
    assert y[0, 0] == 0 and y[0, -1] == 0 and y[0, 220:-220].min() == 1, "5 ms ramps, the rest untouched"

    # the same library without joining (plus two longer takes): most of it is dropped, and the accounting says so
    sox_noise(raw / "long a.wav", 8)
    sox_noise(raw / "long b.wav", 8)
    off = tmp_path / "off.toml"
    off.write_text(
        (recipes.CONFIGS / "noise.toml")
        .read_text()
        .replace("join_short = true", "join_short = false")
        .replace('gin = "noise.gin"', f'gin = "{recipes.CONFIGS}/noise.gin"')
    )
    r = pipe("preprocess", str(off), "--root", tmp_path, "--n-signal", 65536)
    assert r.returncode == 0, r.stderr
    acc = json.loads((tmp_path / "datasets/off/db/accounting.json").read_text())
    assert acc["in_database_s"] < 0.5 * total and "join_short is off" in r.stdout
    assert len(acc["dropped"]) == 82 and all(
        d["why"] in ("shorter than a chunk", "tail after the last whole chunk") for d in acc["dropped"]
    )


def test_symlinked_folders_loops_and_non_utf8_names(tmp_path):
    raw = tmp_path / "datasets/noise/raw"
    elsewhere = tmp_path / "library"
    noise_set(elsewhere, 8)
    raw.mkdir(parents=True)
    (raw / "linked").symlink_to(elsewhere)  # a symlinked subfolder is followed ...
    (elsewhere / "loop").symlink_to(elsewhere)  # ... and a loop is read once
    latin1 = os.fsdecode(b"caf\xe9 take.wav")  # a latin-1 file name, not valid UTF-8
    sox_noise(raw / latin1, 4)
    r = pipe("preprocess", "noise", "--root", tmp_path, "--n-signal", 65536)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "symlink loop" in r.stderr
    sources = json.loads((tmp_path / "datasets/noise/db/sources.json").read_text())
    names = {os.path.basename(f) for s in sources for f in s.get("sources", [s.get("source")])}
    assert {"take 0 ü.wav", "take 1 ü.wav", "caf\ufffd take.wav"} <= names


@pytest.mark.parametrize(
    "args,says",
    [
        (["--batch", "0"], "BATCH=0 is not a whole number of 1 or more"),
        (["--batch", "-1"], "BATCH=-1 is not a whole number of 1 or more"),
        (["--max-steps", "0"], "MAX_STEPS=0 is not a whole number of 1 or more"),
        (["--val-every", "0"], "VAL_EVERY=0 is not a whole number of 1 or more"),
        (["--n-signal", "lots"], "N_SIGNAL=lots is not a whole number of 1 or more"),
        (["--workers", "-2"], "WORKERS=-2 is not a whole number of 0 or more"),
        (["--augment", "foo"], "augmentation 'foo' is not one of acids-rave's: compress, gain, mute"),
        (["--override", "PHASE_1_DUATION=5"], "sets PHASE_1_DUATION, which nothing in v2_small, noise reads"),
        (
            ["--override", "RAVE.foo=1"],
            "OVERRIDE 'RAVE.foo=1' does not fit v2_small, noise: Configurable 'RAVE' doesn't",
        ),
        (
            ["--n-signal", "100000"],
            "N_SIGNAL=100000 does not fit RAVE v2_small: an example must be a whole number of latent "
            "frames of 512 samples (RATIOS x N_BAND of its config); use N_SIGNAL=99840 or 100352",
        ),
        (
            ["--override", "RAVE.latent_size=(("],
            "OVERRIDE 'RAVE.latent_size=((' is not a gin binding (a ( or [ is never closed)",
        ),
        (["--override", "PHASE_1_DURATION='abc'"], "sets PHASE_1_DURATION to 'abc': it takes a whole number of steps"),
        (["--override", "PHASE_1_DURATION=abc"], "is not a gin binding (its value is not a number, a quoted string"),
        (
            ["--override", "RATIOS=[4,4,4,3]"],
            "N_SIGNAL=131072 does not fit RAVE v2_small as overridden: an example must be a "
            "whole number of latent frames of 3072 samples",
        ),
        (["--tag", "../../escape"], "TAG='../../escape' would put the run outside"),
        (["--tag", ".."], "TAG='..' would put the run outside"),
        (["--batch", "99999999999999999999"], "BATCH=99999999999999999999 is too large: at most 2147483647"),
    ],
)
def test_bad_settings_are_one_sentence_before_any_work(tmp_path, args, says):
    r = pipe("train", "noise", *args, "--root", tmp_path, "--device", "cpu")
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists(), "nothing was started"


def test_size_advice_names_the_n_signal_that_fits_the_audio_at_hand():
    from rave_pipeline.data.accounting import size_advice

    voice = recipes.load("voice")  # v2, n_signal 131072: 38 s of speech is 6 chunks, RAVE needs 51
    text = size_advice(voice, 2, 6, 38.0)
    assert "RAVE needs 51" in text and "Add at least 267 s" in text  # (51 - 6) x 5.94 s
    # at 262144: 38 s = 3 chunks of 11.9 s; 98/2 split -> 2 train + 1 validation chunk of 128 latent frames
    assert "or use N_SIGNAL=262144, which fits the audio at hand" in text
    assert voice.n_signal == 131072 and recipes.load("voice", n_signal=262144).min_chunks(2) == 3


def test_a_long_recording_is_converted_a_chunk_at_a_time(tmp_path):
    """A multi-hour file must never sit in memory whole: convert streams it, a chunk at a time."""
    import tracemalloc

    from rave_pipeline.data import recordings

    raw = tmp_path / "raw"
    long = sox_noise(raw / "field.flac", 600, sr=48000)  # 10 min: 106 MB as float32 at 44.1 kHz
    recipe = recipes.load("noise", root=tmp_path, raw="raw")
    tracemalloc.start()
    tail, found, notes = recordings.convert(long, recipe, tmp_path / "out.wav")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    chunk_bytes = 2 * recipe.n_signal * 4
    assert found == 600 * SR and tail.shape == (1, found % (2 * recipe.n_signal))
    assert sf.info(str(tmp_path / "out.wav")).frames == found - tail.shape[1]
    assert peak < 8 * chunk_bytes, f"peak {peak / 1e6:.1f} MB for a {found * 4 / 1e6:.0f} MB recording"


def test_files_libsndfile_cannot_read_share_ffmpeg_processes_and_a_bad_one_is_still_named(tmp_path, monkeypatch):
    import subprocess

    from rave_pipeline.data import recordings
    from safeio import audio

    raw = tmp_path / "raw"
    sox_noise(tmp_path / "src.wav", 0.3)
    subprocess.run(["ffmpeg", "-v", "error", "-i", tmp_path / "src.wav", "-c:a", "aac", tmp_path / "a.m4a"], check=True)
    raw.mkdir()
    for i in range(20):
        (raw / f"{i:02d}.m4a").write_bytes((tmp_path / "a.m4a").read_bytes())
    (raw / "07x.m4a").write_text("not audio")
    recipe = recipes.load("noise", root=tmp_path, raw="raw")
    alone = audio.decode_audio(raw / "00.m4a", SR, 1).shape[1]
    started = []
    popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda cmd, **kw: started.append(cmd) or popen(cmd, **kw))
    report = recordings.clean(recipe, recordings.raw_files(raw))
    ffmpeg = [c for c in started if "ffmpeg" in Path(c[0]).name]
    assert report["found_s"] * SR == pytest.approx(20 * alone)  # the same samples as one file at a time
    assert [Path(s["file"]).name for s in report["skipped"]] == ["07x.m4a"]
    assert report["skipped"][0]["why"] == "not audio or corrupt"
    assert len(ffmpeg) <= 12, f"{len(ffmpeg)} ffmpeg processes for 21 files (halving finds the bad one)"


@pytest.fixture
def small_disk(tmp_path):
    """A real filesystem of a few MB (tmpfs), to fill up."""
    import subprocess

    mounted = []

    def make(mb: int) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        if subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={mb}m", "tmpfs", str(where)], capture_output=True
        ).returncode:
            pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", str(where)])


@pytest.mark.parametrize("mb,stage", [(16, "converting"), (40, "database")])
def test_a_full_disk_is_one_sentence_and_leaves_nothing_half_written(tmp_path, small_disk, mb, stage):
    raw = noise_set(tmp_path / "raw", 180, files=3)  # 3 min: 32 MB as float32 working copies, 17 MB as a database
    root = small_disk(mb)
    r = pipe("preprocess", "noise", "--root", root, "--raw", raw)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"the disk holding {root}/datasets/noise" in r.stderr and "run make preprocess-noise again" in r.stderr
    if stage == "converting":  # it filled up: how much is needed, from the recordings' durations
        assert "is full: preprocessing these recordings needs about 49 MB there and it has 17 MB" in r.stderr
    else:  # the check before rave preprocess: the database would not fit
        assert "MB free and the database of 3 min of audio needs 17 MB" in r.stderr
    left = sorted(p.name for p in (root / "datasets/noise").iterdir())
    assert left == [".lock"], f"nothing half-written is kept: {left}"


@pytest.mark.slow
def test_training_on_a_disk_too_small_for_a_checkpoint_says_the_checkpoint_size_and_the_space_needed(
    tmp_path, small_disk
):
    """The database fits, the first checkpoint (v2_small: 175 MB in phase 2, measured) does not: one sentence
    with the size of a checkpoint and 3x it as the space needed (best, last and a timeline save)."""
    raw = noise_set(tmp_path / "raw", 70, files=2)
    root = small_disk(60)
    opts = ["--root", root, "--raw", raw, "--n-signal", "65536"]
    assert pipe("preprocess", "noise", *opts).returncode == 0
    r = pipe("train", "noise", *opts, "--device", "cpu", "--max-steps", "4", "--val-every", "2")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert f"the disk holding {root}/runs/noise is full (" in r.stderr, r.stderr[-3000:]
    assert "training writes checkpoints of 175 MB and needs about 525 MB free there" in r.stderr, r.stderr[-3000:]
    assert "run make train-noise again to resume from the start (step 0)" in r.stderr


def test_a_checkpoint_cut_short_is_deleted_not_kept_holding_the_disk(tmp_path, capsys):
    import time

    import torch

    from rave_pipeline.commands import runs

    folder = tmp_path / "runs/noise/noise_abc/version_0/checkpoints"
    folder.mkdir(parents=True)
    torch.save({"global_step": 5, "w": torch.zeros(1000)}, folder / "epoch=1.ckpt")
    time.sleep(0.01)
    whole = (folder / "epoch=1.ckpt").read_bytes()
    (folder / "last.ckpt").write_bytes(whole[: len(whole) // 2])  # newer, cut short by a full disk
    assert runs.newest_checkpoint(tmp_path / "runs/noise") == folder / "epoch=1.ckpt"
    assert len(list(folder.iterdir())) == 2, "a query changes nothing on disk"
    runs.discard_incomplete(tmp_path / "runs/noise")
    assert sorted(p.name for p in folder.iterdir()) == ["epoch=1.ckpt"]
    assert "last.ckpt is incomplete (killed or disk full while saving" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_preprocess_prints_both_times_per_file_and_the_ratio_for_each_shape():
    rows = {}
    for shapes, scale in (("tiny", "0.2"), ("short,mixed", "0.02")):  # 400 one-shots fill a chunk; 40 would not
        r = run_cli(
            "-m", "rave_pipeline.benchmarks.bench_preprocess", "--shapes", shapes, "--scale", scale, "--pairs", "1"
        )
        assert r.returncode == 0, r.stderr
        rows |= {
            line.split()[0]: line.split()
            for line in r.stdout.splitlines()
            if line.startswith(("tiny", "short", "mixed"))
        }
    assert list(rows) == ["tiny", "short", "mixed"]
    for name, row in rows.items():
        files, plain, ours, plain_ms, ours_ms, ratio = int(row[1]), *map(float, row[4:8]), float(row[8])
        assert files == {"tiny": 400, "short": 10, "mixed": 8}[name]
        assert plain_ms == pytest.approx(plain / files * 1000, abs=0.7)
        assert ours_ms == pytest.approx(ours / files * 1000, abs=0.7)
        assert ratio == pytest.approx(plain / ours, rel=0.01)  # one pair: its ratio; times are printed to 10 ms


def test_bench_loader_prints_both_speeds_and_their_ratio():
    r = run_cli(
        "-m", "rave_pipeline.benchmarks.bench_loader", "--chunks", "16", "--batch", "4", "--epochs", "2", "--pairs", "1"
    )
    assert r.returncode == 0, r.stderr
    plain, ours = (
        float(line.split()[-2]) for line in r.stdout.splitlines() if line.startswith(("RAVE's loader", "the project's"))
    )
    assert "2 epochs = 8 batches, 1 pairs" in r.stdout
    speedup = float(r.stdout.split("speed-up")[1].split("x")[0])
    assert speedup == pytest.approx(ours / plain, rel=0.02)  # one pair: its ratio is the ratio of the speeds


def test_a_file_ffmpeg_gives_up_on_part_way_leaves_nothing_for_rave(tmp_path, monkeypatch):
    """ffmpeg failing after some chunks (a watchdog kill, a broken stream): the chunks already
    written must not stay where rave preprocess reads."""
    from rave_pipeline.data import recordings

    recipe = recipes.load("noise", root=tmp_path, n_signal=65536)

    def dies_part_way(path, sr, channels, block):
        yield np.zeros((channels, block), np.float32)
        raise UserError(f"{path}: ffmpeg did not finish decoding it")

    monkeypatch.setattr(recordings, "stream_audio", dies_part_way)
    dest = tmp_path / "00000.wav"
    assert recordings.convert(tmp_path, recipe, dest) == (None, 0, "not audio or corrupt")
    assert not dest.exists()


def test_joined_audio_keeps_its_remainder_across_write_windows(tmp_path):
    """Joined audio is written a window (64 chunks) at a time and what is left over carries into the next
    window: over a library many windows long, only the last partial chunk of all of it is lost."""
    import dataclasses

    from rave_pipeline.data import recordings

    raw = tmp_path / "raw"
    raw.mkdir()
    lengths = np.random.default_rng(0).integers(300, 1000, 200)  # every file shorter than a 512-sample chunk
    for i, n in enumerate(lengths):
        sf.write(str(raw / f"{i:03d}.wav"), np.full(n, 0.25, np.float32), SR, subtype="FLOAT")
    recipe = dataclasses.replace(recipes.load("noise", root=tmp_path, raw="raw"), n_signal=256)
    report = recordings.clean(recipe, recordings.raw_files(raw))
    total, chunk = int(lengths.sum()), recipe.chunk
    joined = round(sum(k["seconds"] for k in report["kept"]) * SR)
    assert total // chunk > 3 * 64, "several windows"
    assert joined == total // chunk * chunk and round(report["left_s"] * SR) == total % chunk
    assert round(report["found_s"] * SR) == total
    # each joined file names exactly the files whose samples it holds, across windows: what is joined of file i
    # is its last partial chunk, laid end to end (from ends[i] - tails[i] to ends[i]), against each file's span
    tails = lengths % chunk
    ends, start = np.cumsum(tails), 0
    for k in [k for k in report["kept"] if "sources" in k]:
        stop = start + round(k["seconds"] * SR)
        expected = [f"{i:03d}.wav" for i, end in enumerate(ends) if tails[i] and end - tails[i] < stop and end > start]
        assert [Path(s).name for s in k["sources"]] == expected, k["clean"]
        start = stop


def test_any_command_removes_what_a_killed_export_left_and_exports_must_be_a_folder(tmp_path):
    staging = tmp_path / "exports/.staging-noise-99999999"  # no such process
    (staging / "x").mkdir(parents=True)
    alive = tmp_path / f"exports/.staging-voice-{os.getpid()}"  # a running export's: kept
    alive.mkdir()
    r = pipe("preprocess", "noise", "--root", tmp_path)
    assert r.returncode == 2 and "does not exist: put recordings there" in r.stderr, r.stderr
    assert not staging.exists() and alive.exists()
    (tmp_path / "a file").write_text("")
    for command in ("export", "export-chaos", "preprocess"):
        r = pipe(command, "noise", "--root", tmp_path, "--exports", tmp_path / "a file")
        assert r.returncode == 2 and f"EXPORTS={tmp_path / 'a file'} is a file, not a folder" in r.stderr, r.stderr


def test_workers_beyond_the_cores_are_clamped_with_one_line(capsys):
    from rave_pipeline.commands.hardware import loader_workers

    cores = len(os.sched_getaffinity(0))
    assert (
        loader_workers(1000) == cores
        and f"WORKERS=1000 is more than the {cores} CPU core(s)" in capsys.readouterr().err
    )
    assert loader_workers(cores) == cores and capsys.readouterr().err == ""


def test_training_says_where_it_is_at_least_every_30_seconds(tmp_path, monkeypatch, capsys):
    """Between validations (hours apart on a cluster) a line with the step and the ETA, by the clock."""
    from types import SimpleNamespace

    import torch

    from rave_pipeline.inside_rave import progress

    clock = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    trainer = SimpleNamespace(
        global_step=0,
        max_steps=1000,
        log_dir=str(tmp_path),
        default_root_dir=str(tmp_path),
        callback_metrics={},
        sanity_checking=False,
        is_global_zero=True,  # one process: rank 0 (the other ranks of a data-parallel run say nothing)
    )
    model = SimpleNamespace(device=torch.device("cpu"), warmed_up=False, warmup=500)
    meter = progress.StepMeter()
    meter.on_train_start(trainer, model)
    shown, lines = [], []
    for step in range(1, 101):
        clock[0] += 1.5  # a step every 2 s: 1.5 s waiting for data, 0.5 s in the training step
        meter.on_train_batch_start(trainer, model, None, step)
        clock[0] += 0.5
        trainer.global_step = step
        meter.on_train_batch_end(trainer, model, None, None, step)
        out = capsys.readouterr().out
        shown += [step] if out else []
        lines += [out] if out else []
    assert shown == [15, 30, 45, 60, 75, 90]  # every 30 s
    assert "30 min 20 s" in lines[-1], lines[-1]  # 910 steps left at 2 s each
    record = json.loads((tmp_path / "progress.json").read_text())
    phase = record["phases"]["1"] if "phases" in record else record
    assert phase["s_per_step_median"] == pytest.approx(2.0) and phase["data_wait_fraction"] == pytest.approx(0.75)


def test_the_checkpoints_save_every_keeps_are_counted_per_phase(tmp_path, monkeypatch, capsys):
    """The recipes' defaults keep 20-50 checkpoints over a full run; the disk they need is per RAVE phase."""
    noise, voice = recipes.load("noise", root=tmp_path), recipes.load("voice", root=tmp_path)
    assert noise.timeline_bytes(0, 1_000_000) == (40, 20 * 121_000_000 + 20 * 175_000_000)
    assert voice.timeline_bytes(0, 1_000_000) == (30, 10 * 487_000_000 + 20 * 704_000_000)
    assert noise.timeline_bytes(1_950_000, 1_000_000) == (1, 175_000_000)  # resuming: only what is left
    from rave_pipeline.commands import train

    monkeypatch.setattr(train.disk, "free_bytes", lambda folder: 5_000_000_000)
    train.warn_timeline_disk(noise, 0, 1_000_000)
    assert "SAVE_EVERY=50000 keeps 40 more checkpoints, about 5.9 GB by MAX_STEPS=2000000" in capsys.readouterr().err
    train.warn_timeline_disk(noise, 1_000_000, 1_000_000)  # 20 left, 3.5 GB: fits
    assert capsys.readouterr().err == ""


def test_rave_numbers_no_checkpoints_of_its_own(tmp_path):
    """RAVE's --save_every counts batches from 0 again after a resume, overwriting the first part's files:
    it is switched off (0), and the wrapper's TimelineSaves keeps one every SAVE_EVERY global steps."""
    from rave_pipeline.commands import train

    noise = recipes.load("noise", root=tmp_path, save_every=7)
    cmd = train.rave_command(noise, 4, "-1", None, [], 0)
    assert cmd[cmd.index("--save_every") + 1] == "0" and cmd.count("--save_every") == 1


def test_an_export_waits_for_a_config_a_starting_trainer_is_rewriting(tmp_path):
    # rave train truncates config.gin and writes it again each time it starts or resumes: an export held
    # beside it must copy the written file, not the empty one between (a CI run caught exactly that)
    import threading

    from rave_pipeline.commands.export import settled_config

    config = tmp_path / "config.gin"
    config.write_text("")
    threading.Timer(0.3, config.write_text, ["RAVE.latent_size = 16\n"]).start()
    assert settled_config(tmp_path) == "RAVE.latent_size = 16\n"
    config.write_text("")
    with pytest.raises(UserError, match="config.gin stayed empty or kept changing"):
        settled_config(tmp_path, tries=3, pause=0.01)


def batches(make_loader, dataset, epochs: int = 3) -> tuple[list, list]:
    """Every batch of `epochs` epochs of a training loader as rave train builds it, with a validation pass
    and the training's own draws from torch's generator between epochs; and the workers' pids each epoch."""
    import torch

    torch.manual_seed(1234)
    train = make_loader(dataset, 4, True, drop_last=True, num_workers=2)
    val = make_loader(dataset, 4, False, num_workers=2)
    seen, pids = [], []
    for _ in range(epochs):
        seen += [b.clone() for b in train]
        pids.append(sorted(w.pid for w in train._iterator._workers) if train._iterator else None)  # kept ones
        seen += [b.clone() for b in val]
        torch.rand(3)  # the model's own draws (noise, dropout) between epochs
    return seen, pids


def test_the_kept_workers_read_the_same_examples_in_the_same_order_as_raves_loader(tmp_path):
    # RAVE's own dataset (random crops, phase mangling in the workers) on a database in its format
    import rave.dataset
    import torch
    from torch.utils.data import DataLoader

    from rave_pipeline.inside_rave.loader import SteadyLoader
    from safeio.database import synthetic_database

    db = synthetic_database(tmp_path / "db", 24, 2 * 8192, SR)
    dataset = rave.dataset.get_dataset(str(db), SR, 8192)
    plain, _ = batches(DataLoader, dataset)
    steady, pids = batches(SteadyLoader, dataset)
    assert len(plain) == len(steady) == 3 * (6 + 6)
    assert all(torch.equal(a, b) for a, b in zip(plain, steady))
    assert pids[0] and pids[0] == pids[1] == pids[2]  # the same worker processes all along
    # and the crops do differ between epochs (a test of the seeding, not of a dataset without randomness)
    assert not torch.equal(plain[0], plain[12]) or not torch.equal(plain[1], plain[13])


def test_the_database_fingerprint_follows_every_audio_setting(tmp_path):
    """A database built at one N_SIGNAL, rate, channel count or joining is not up to date for another."""
    import dataclasses

    from rave_pipeline.data.recordings import fingerprint

    recipe = recipes.load("noise", root=tmp_path)
    files = sorted(noise_set(recipe.raw_dir, 2.0, files=1).glob("*.wav"))
    base = fingerprint(recipe, files)
    assert fingerprint(recipe, files) == base
    for change in (
        {"n_signal": recipe.n_signal * 2},
        {"sampling_rate": 48000},
        {"channels": 2},
        {"join_short": not recipe.join_short},
    ):
        assert fingerprint(dataclasses.replace(recipe, **change), files) != base, change
