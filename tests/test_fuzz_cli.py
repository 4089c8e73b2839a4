"""Every command-line option of the project's CLIs, fed generated bad values: out of range, NaN/inf, huge
integers, empty, words. The answer is exit 0 (a value that happens to be valid) or exit 2 with one
sentence, never a traceback. Run in-process (each main as a user's shell would call it); file paths
nobody can write, and names that are not UTF-8, run as real subprocesses."""

import os
import subprocess
import sys

import pytest

from chaos_models.export import build, export
from helpers.cli import REPO

BAD = ["nan", "inf", "-inf", "-1", "0", "1e30", "99999999999999999999999", "", "abc", "0.5", "-0"]


def call(main, argv, capsys):
    try:
        code = main(argv) or 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(export(build("chaos_effect", seed=0), tmp_path_factory.mktemp("m") / "c.ts"))


def cases(model, tmp):
    from audition.__main__ import main as audition
    from audition.realtime import main as realtime
    from chaos_models.__main__ import main as chaos
    from compare.__main__ import main as compare
    from rave_pipeline.__main__ import main as pipeline

    render = [
        "render",
        model,
        "--method",
        "chaos",
        "--in",
        "saw",
        "--in",
        "const:10",
        "--seconds",
        "0.05",
        "--out",
        f"{tmp}/r.wav",
    ]
    return [
        (chaos, ["export", "--out", f"{tmp}/x.ts"], ["--operators", "--w-mult", "--kernel", "--seed", "--seed-b"]),
        (chaos, ["export-essay", "--out-dir", f"{tmp}/essay"], ["--seed"]),
        (audition, render, ["--seconds", "--sr", "--buffer", "--load-delay", "--seed"]),
        (audition, ["bench", model, "--json", f"{tmp}/b.json"], ["--buffers"]),
        (compare, [f"{tmp}/none.ts", "--out", f"{tmp}/c"], ["--seeds", "--jobs"]),
        (pipeline, ["preprocess", "noise", "--root", str(tmp)], ["--n-signal"]),
        (
            pipeline,
            ["train", "noise", "--root", str(tmp)],
            ["--max-steps", "--val-every", "--save-every", "--batch", "--gpu", "--workers"],
        ),
        (pipeline, ["export", "noise", "--root", str(tmp)], ["--n-signal", "--augment", "--tag", "--exports", "--raw"]),
        (realtime, [f"{tmp}/none.ts"], ["--buffers", "--seconds"]),  # every value ends before a host starts
    ]


def test_every_option_takes_bad_values_with_one_sentence(model, tmp_path, capsys):
    checked = 0
    for main, argv, options in cases(model, tmp_path):
        for option in options:
            for value in BAD:
                code, out, err = call(main, [*argv, f"{option}={value}"], capsys)
                where = f"{main.__module__} {' '.join(argv[:1])} {option} {value!r}"
                assert code in (0, 2), f"{where}: exit {code}\n{err[-2000:]}"
                assert "Traceback" not in out + err, f"{where}:\n{err[-2000:]}"
                if code == 2:
                    lines = [line for line in err.strip().splitlines() if line.strip()]
                    assert lines and lines[-1].startswith(("error:", "python -m", "usage:")) or "error" in lines[-1], (
                        where
                    )
                checked += 1
    assert checked == 28 * len(BAD)


@pytest.mark.parametrize(
    "option,value",
    [
        ("--w-mult", "nan"),
        ("--w-mult", "inf"),
        ("--w-mult", "-inf"),
        ("--w-mult", "1e30"),
        ("--operators", "100000"),
        ("--seed", "99999999999999999999999"),
    ],
)
def test_values_no_instrument_can_play_are_refused(tmp_path, capsys, option, value):
    from chaos_models.__main__ import main as chaos

    code, _, err = call(chaos, ["export", "--out", str(tmp_path / "x.ts"), f"{option}={value}"], capsys)
    assert code == 2 and f"{option} {value!r}: give a" in err and not (tmp_path / "x.ts").exists()


@pytest.mark.parametrize("out", ["/proc/o.wav", "/sys/o.wav", "TMP/\udcff/o.wav"])
def test_unwritable_and_non_utf8_outputs_are_one_sentence(model, out, tmp_path):
    out = out.replace("TMP", str(tmp_path))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "audition",
            "render",
            model,
            "--method",
            "chaos",
            "--in",
            "saw",
            "--in",
            "const:10",
            "--seconds",
            "0.05",
            "--out",
            os.fsencode(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert (r.returncode, "Traceback" in r.stderr) in ((2, False), (0, False)), r.stderr[-2000:]
    if out.startswith(("/proc", "/sys")):
        assert r.returncode == 2 and "cannot write" in r.stderr and "choose a folder you can write to" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "chaos_models", "export", "--out", os.fsencode(out.replace(".wav", ".ts"))],
        cwd=REPO,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert "Traceback" not in r.stderr and r.returncode in (0, 2), r.stderr[-2000:]


def test_a_non_utf8_model_name_renders(tmp_path, model):
    odd = os.fsencode(tmp_path) + b"/caf\xe9.ts"
    with open(odd, "wb") as f:
        f.write(open(model, "rb").read())
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "audition",
            "render",
            odd,
            "--method",
            "chaos",
            "--in",
            "saw",
            "--in",
            "const:10",
            "--seconds",
            "0.05",
            "--out",
            os.fsencode(tmp_path) + b"/r\xe9.wav",
        ],
        cwd=REPO,
        capture_output=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr[-2000:]


def test_every_subcommand_s_help_names_it_and_runs_nothing(capsys):
    """rave-to-chaos SUBCOMMAND --help: a usage line naming that subcommand, exit 0, and nothing run (the
    benchmarks included): each returns within 10 s."""
    import signal

    from rave_to_chaos import cli
    from safeio.errors import CALLED_AS

    def hung(*_):
        raise TimeoutError("--help did more than print help: still running after 10 s")

    wrong = []
    old = signal.signal(signal.SIGALRM, hung)
    try:
        for name in cli.COMMANDS:
            signal.alarm(10)  # a guard against a help that starts work (a benchmark, a build), not a speed test
            with pytest.raises(SystemExit) as stop:
                cli.main([name, "--help"])
            signal.alarm(0)
            out = capsys.readouterr().out
            if stop.value.code != 0 or not out.startswith(f"usage: rave-to-chaos {name} "):
                wrong.append(f"{name}: exit {stop.value.code}, {out.splitlines()[:1]}")
            takes = {"preprocess": "--force", "train": "--max-steps", "export": "--ckpt", "cluster-train": "--sbatch"}
            others = {"preprocess": "--max-steps", "train": "--ckpt", "export": "--max-steps", "export-all": "--ckpt"}
            if name in takes and takes[name] not in out or name in others and others[name] in out:
                wrong.append(f"{name}: lists options it does not take, or misses its own")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        CALLED_AS.clear()
    assert not wrong, "\n".join(wrong)


def test_each_step_takes_the_settings_a_job_hands_every_step():
    """train.sbatch hands one set of settings to preprocess and to train; export takes the train ones too
    (the real-host tests export with --device cpu): taken, though each command lists only its own."""
    from rave_pipeline.__main__ import parse

    args = parse(["preprocess", "noise", "--max-steps", "3", "--device", "cpu", "--n-signal", "65536"])
    assert (args.command, args.max_steps, args.device, args.n_signal) == ("preprocess", 3, "cpu", 65536)
    assert parse(["export", "noise", "--device", "cpu", "--ckpt", "best"]).ckpt == "best"
