"""`make cluster-train-*` / `python -m rave_pipeline submit`: the exact sbatch argument lists, checked
against a recording stand-in for sbatch (the real Slurm runs in test_slurm.py)."""

import json
import subprocess

import pytest

from helpers.cli import REPO, run_cli, run_make


def recording_sbatch(tmp_path):
    """An executable that appends its argv to a log and answers like `sbatch --parsable`."""
    log, script = tmp_path / "calls.jsonl", tmp_path / "sbatch"
    script.write_text(f"""#!/usr/bin/env python3
import json, sys
with open({str(log)!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
print(sum(1 for _ in open({str(log)!r})) + 100)
""")
    script.chmod(0o755)
    return script, lambda: [json.loads(line) for line in log.read_text().splitlines()]


def test_values_with_spaces_and_quotes_reach_the_job_as_typed(tmp_path):
    sbatch, calls = recording_sbatch(tmp_path)
    root = tmp_path / "my runs"
    r = run_cli(
        "-m",
        "rave_pipeline",
        "submit",
        "noise",
        "--root",
        root,
        "--max-steps",
        "5000",
        "--override",
        "PHASE_1_DURATION = 3000",
        "--override",
        "RAVE.name = 'a b'",
        "--fresh",
        "--sbatch",
        str(sbatch),
        "--sbatch-args",
        "--partition=gpu --time=48:00:00",
    )
    assert r.returncode == 0, r.stderr
    assert "training job 101 (noise), export job 102 (runs when training succeeds)" in r.stdout
    train, export = calls()
    script_dir = str(REPO / "scripts" / "slurm")
    assert train == [
        "--parsable",
        "--partition=gpu",
        "--time=48:00:00",
        f"{script_dir}/train.sbatch",
        "noise",
        "--root",
        str(root),
        "--max-steps",
        "5000",
        "--override",
        "PHASE_1_DURATION = 3000",
        "--override",
        "RAVE.name = 'a b'",
        "--fresh",
    ]
    assert export == [
        "--parsable",
        "--partition=gpu",
        "--time=48:00:00",
        "--dependency=afterok:101",
        f"{script_dir}/export.sbatch",
        "noise",
        "--root",
        str(root),
    ]


def test_the_batch_script_hands_its_arguments_on_unchanged(tmp_path):
    """train.sbatch's own argument handling, run by bash with `python` replaced by an argv printer."""
    fake = tmp_path / "repo"
    (fake / ".venv/bin").mkdir(parents=True)
    (fake / "configs").mkdir()
    (fake / "configs/noise.toml").touch()
    (fake / ".venv/bin/python").write_text(
        "#!/usr/bin/env python3\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n"
    )
    (fake / ".venv/bin/python").chmod(0o755)
    r = subprocess.run(
        [
            "bash",
            str(REPO / "scripts/slurm/train.sbatch"),
            "noise",
            "--root",
            "/a b",
            "--override",
            "RAVE.name = 'x y'",
        ],
        cwd=fake,
        env={"PATH": "/usr/bin:/bin", "SLURM_SUBMIT_DIR": str(fake)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    printed = [json.loads(line) for line in r.stdout.splitlines() if line.startswith('["')]
    assert printed == [
        ["-m", "rave_pipeline", "preprocess", "noise", "--root", "/a b", "--override", "RAVE.name = 'x y'"],
        ["-m", "rave_pipeline", "train", "noise", "--root", "/a b", "--override", "RAVE.name = 'x y'"],
    ], r.stdout + r.stderr


def test_export_all_is_one_job_after_the_named_ones(tmp_path):
    sbatch, calls = recording_sbatch(tmp_path)
    r = run_cli("-m", "rave_pipeline", "submit", "all", "--export-only", "--after", "7:8", "--sbatch", str(sbatch))
    assert r.returncode == 0 and "export job 101 (all)" in r.stdout, r.stderr
    assert calls() == [["--parsable", "--dependency=afterok:7:8", str(REPO / "scripts/slurm/export.sbatch"), "all"]]


def test_a_refused_submission_is_one_sentence(tmp_path):
    r = run_cli("-m", "rave_pipeline", "submit", "noise", "--sbatch", "/bin/false")
    assert r.returncode == 2 and "sbatch refused the job (exit 1); the command was: /bin/false --parsable" in r.stderr


def test_cluster_targets_take_root_and_exports_like_every_export_target(tmp_path):
    """make cluster-train-* and cluster-export-all hand ROOT and EXPORTS to the jobs, as the local targets
    use them: the trained and hand-written exports land in the same folder. A `$` reaches them as typed
    (make would expand `$5` to nothing and `$(HOME)` to a home folder)."""
    sbatch, calls = recording_sbatch(tmp_path)
    root, out = tmp_path / "my $5 root", tmp_path / "shared $(HOME) exports$$"
    for target in ("cluster-train-noise", "cluster-export-all"):
        r = run_make(target, f"ROOT={root}", f"EXPORTS={out}", f"SBATCH={sbatch}", "AFTER=7")
        assert r.returncode == 0, r.stdout + r.stderr
    train, export, export_all = calls()
    for job in (train, export, export_all):
        assert job[job.index("--root") + 1] == str(root) and job[job.index("--exports") + 1] == str(out), job
    assert export_all[:3] == ["--parsable", "--dependency=afterok:7", str(REPO / "scripts/slurm/export.sbatch")]


def test_the_timeline_is_one_cpu_job_with_the_same_settings(tmp_path):
    """make cluster-timeline-<recipe>: one job running the timeline on the run ROOT names, after the jobs
    AFTER names (or now, beside a training still running), with EVERY and INPUTS as typed (quotes keep a
    name with spaces whole, as in a shell; an unclosed quote is one sentence)."""
    sbatch, calls = recording_sbatch(tmp_path)
    root = tmp_path / "my root"
    for after in ("AFTER=12", "AFTER="):
        r = run_make(
            "cluster-timeline-noise",
            f"ROOT={root}",
            "EVERY=3",
            """INPUTS="take one.wav" 'it''s ü $5.flac' plain.wav""",
            f"SBATCH={sbatch}",
            after,
        )
        assert r.returncode == 0, r.stdout + r.stderr
    later, now = calls()
    script = str(REPO / "scripts/slurm/timeline.sbatch")
    mine = ["--inputs", "take one.wav", "--inputs", "its ü $5.flac", "--inputs", "plain.wav"]
    args = [script, "noise", "--root", str(root), "--every", "3", *mine]
    assert later == ["--parsable", "--dependency=afterok:12", *args] and now == ["--parsable", *args]
    r = subprocess.run(["bash", script], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "usage: timeline.sbatch RECIPE" in r.stderr
    r = run_make("cluster-timeline-noise", f"ROOT={root}", 'INPUTS="take one.wav', f"SBATCH={sbatch}")
    assert r.returncode == 2 and "INPUTS='\"take one.wav': No closing quotation; quote each name" in r.stderr, r.stderr


def test_the_training_job_asks_slurm_for_the_signal_it_requeues_on_ten_minutes_ahead():
    """#SBATCH --signal=B:SIG@600 sends SIG to the batch shell 600 s before the time limit; the script's trap
    for that signal checkpoints, stops and requeues (tests/test_slurm.py sends it under the real Slurm)."""
    import re

    text = (REPO / "scripts/slurm/train.sbatch").read_text()
    sig, lead = re.search(r"^#SBATCH --signal=B:(\w+)@(\d+)$", text, re.M).groups()
    assert int(lead) == 600 and re.search(rf"^trap requeue {sig}$", text, re.M), (sig, lead)
    assert "scontrol requeue" in text.split("requeue() {")[1].split("}")[0]


@pytest.mark.parametrize("exports", ["my $5 exports", "ABSOLUTE"])
def test_the_targets_that_read_exports_take_exports_and_root_like_the_targets_that_write_them(tmp_path, exports):
    """make validate (as bench, bench-guard, realtime and compare) reads EXPORTS under ROOT, or EXPORTS
    itself when absolute, exactly as typed; the default is <ROOT>/exports."""
    from chaos_models.export import build, export

    root = tmp_path / "the $(HOME) root"
    folder = tmp_path / "elsewhere" if exports == "ABSOLUTE" else root / exports
    export(build("model_synth", seed=0), folder / "mine.ts")
    given = str(folder) if exports == "ABSOLUTE" else exports
    r = run_make("validate", f"ROOT={root}", f"EXPORTS={given}", timeout=300)
    assert r.returncode == 0 and "mine.ts" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert "chaos_effect" not in r.stdout, "the checkout's own exports/ are not read"
