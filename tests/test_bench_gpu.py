"""make bench-gpu: the GPU benchmark's code path, run on CPU with tiny settings, and its arithmetic; and what
every benchmark refuses before it starts."""

import importlib
import json

import pytest

from helpers.cli import run_cli
from rave_pipeline.benchmarks import gpu_plan, gpu_report, gpu_run
from rave_pipeline.commands import recipes


def test_memory_fit_is_least_squares_through_the_points():
    points = [(b, 0.84 + 0.973 * b) for b in (4, 16, 64, 120)]
    fixed, per = gpu_plan.fit_memory(points)
    assert fixed == pytest.approx(0.84) and per == pytest.approx(0.973)
    # one batch size only: all of it per example, so the proposal can only be too small
    assert gpu_plan.fit_memory([(10, 5.0)]) == (0.0, 0.5)


def test_proposed_batch_keeps_headroom_and_the_floor():
    # 16 GB card: 16 * 0.9 - 0.6 context - 1.0 fixed = 12.8 GB for examples of 1.5 GB -> 8
    assert gpu_plan.propose((1.0, 1.5), [16], floor=4) == {16: 8}
    # 8 GB: 5.6 GB / 1.5 = 3, under the recipe's floor -> "too small" (0)
    assert gpu_plan.propose((1.0, 1.5), [8], floor=4) == {8: 0}


def test_second_run_never_exceeds_what_the_first_says_fits():
    noise = recipes.load("noise")
    row = noise.batch_for_gpu(150.0)  # a 150e9-byte card (an H200) uses the 141 GB row
    first = gpu_plan.Plan(noise, row, "wrapper", "141 GB row")
    # no larger row: the batch scaled to the card, floor(row * 150 / 141) ...
    nxt = gpu_plan.next_plan(first, [{"phases": {"2": {"peak_reserved_gb": 100.0}}}], 150.0)
    assert nxt.batch == row * 150 // 141 and "scaled" in nxt.why
    # ... unless the first run's peak, scaled per example, says less fits: row * (150 * 0.9 - 0.6) / peak
    peak = 134.4 * row / (row + 2.5)
    nxt = gpu_plan.next_plan(first, [{"phases": {"2": {"peak_reserved_gb": peak}}}], 150.0)
    assert nxt.batch == row + 2 and "capped" in nxt.why
    oom = gpu_plan.next_plan(first, [{"error": "out of memory"}], 150.0)
    assert oom.batch == row // 2 and "out of memory" in oom.why
    assert gpu_plan.next_plan(first, [{"error": "exit 1: boom"}], 150.0) is None


def test_a_card_a_little_under_its_nominal_memory_gets_its_row_and_the_next_row_up():
    noise = recipes.load("noise")
    rows = sorted(noise.batch_by_gpu_gb)
    assert gpu_plan.table_rows(noise, rows[1] * 0.99) == (rows[1], rows[2])  # 1 % under its row: that row
    assert gpu_plan.table_rows(noise, rows[1] * 0.94) == (rows[0], rows[1])  # 6 % under: the row below
    assert gpu_plan.table_rows(noise, rows[-1] * 2) == (rows[-1], None)


def test_the_wrapper_s_speed_from_its_hooks_is_its_worse_phase():
    run = {"recipe": "noise", "kind": "wrapper", "batch": 8, "wrapper_callbacks_s_per_step": 0.1}
    run["phases"] = {"1": {"s_per_step_median": 1.0}, "2": {"s_per_step_median": 0.5}}
    report = gpu_report.analyse({"runs": [run], "gpu_total_gb": None})
    assert report["runs"][0]["speed_vs_plain_from_hooks"] == pytest.approx(0.5 / 0.6)  # phase 2's, not 1 / 1.1


def test_wrapper_and_plain_are_timed_in_alternating_pairs_and_compared_pair_by_pair():
    noise = recipes.load("noise")
    first = gpu_plan.Plan(noise, 8, "wrapper", "8 GB row")
    plain0, rest = gpu_plan.pair_order(first, 4)
    assert [(p.kind, p.pair) for p in plain0] == [("plain", 0)]  # right after the recipe's first run
    assert [(p.kind, p.pair) for p in rest] == [
        ("plain", 1),
        ("wrapper", 1),
        ("wrapper", 2),
        ("plain", 2),
        ("plain", 3),
        ("wrapper", 3),
    ]
    # plain/wrapper per pair: 1.0, 1.2, 0.9 (each pair's own machine speed cancels out), then the median
    runs = [
        {"recipe": "noise", "batch": 8, "kind": kind, "pair": k, "profiler_step_s": s, "profiler_data_s": 0.1}
        for k, (w, p) in enumerate([(0.9, 0.9), (0.4, 0.5), (1.9, 1.7)])
        for kind, s in (("wrapper", w), ("plain", p))
    ]
    runs.append({"recipe": "noise", "batch": 16, "kind": "wrapper", "pair": 0, "profiler_step_s": 9.0})  # no pair
    report = gpu_report.analyse({"runs": runs, "gpu_total_gb": None})
    w0 = report["runs"][0]
    assert w0["ratio_vs_plain"] == pytest.approx(1.0) and w0["ratio_vs_plain_pairs"] == 3
    assert w0["ratio_vs_plain_iqr"] == pytest.approx([0.95, 1.1])
    assert all("ratio_vs_plain" not in r for r in report["runs"][1:])


@pytest.mark.parametrize(
    "bench,option",
    [
        ("bench_gpu", ["--pairs", "0"]),
        ("bench_gpu", ["--steps", "-3"]),
        ("bench_gpu", ["--warmup", "nan"]),
        ("bench_gpu", ["--budget-s", "inf"]),
        ("bench_loader", ["--batch", "0"]),
        ("bench_loader", ["--workers", "-1"]),
        ("bench_loader", ["--pairs", "1e30"]),
        ("bench_preprocess", ["--pairs", "0"]),
        ("bench_preprocess", ["--scale", "nan"]),
    ],
)
def test_benchmarks_refuse_a_bad_count_before_any_run(bench, option, capsys):
    main = importlib.import_module(f"rave_pipeline.benchmarks.{bench}").main
    with pytest.raises(SystemExit) as e:
        main(option)
    assert e.value.code == 2 and f"{option[0]} '{option[1]}': give a" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bench,argv,sentence",
    [
        ("bench_loader", ["--chunks", "4", "--batch", "8"], "--chunks 4 is less than one --batch of 8"),
        ("bench_preprocess", ["--shapes", "mixed", "--scale", "0.001"], "leaves no file in shape mixed"),
    ],
)
def test_benchmarks_refuse_settings_with_nothing_to_time(bench, argv, sentence, capsys):
    with pytest.raises(SystemExit) as e:
        importlib.import_module(f"rave_pipeline.benchmarks.{bench}").main(argv)
    assert e.value.code == 2 and sentence in capsys.readouterr().err


def test_exception_line_is_found_under_gin_context_lines():
    out = "Traceback\n  File x\nTypeError: bad shape\n  In call to configurable 'RAVE' (<class>)\n"
    assert gpu_run.last_error(out) == "TypeError: bad shape"


@pytest.mark.slow
def test_bench_gpu_runs_rave_on_cpu_with_tiny_settings(tmp_path):
    out = tmp_path / "gpu.json"
    proc = run_cli(
        "-m",
        "rave_pipeline.benchmarks.bench_gpu",
        "--recipes",
        "noise",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--out",
        str(out),
        env={"BENCH_GPU_LOGS": str(tmp_path)},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    wrapper, plain = report["runs"]
    assert (wrapper["kind"], plain["kind"]) == ("wrapper", "plain")
    assert wrapper["n_signal"] == 40960 and wrapper["batch"] == 4  # v2_small's smallest n_signal, the CPU batch
    assert "error" not in wrapper and "error" not in plain
    for phase in ("1", "2"):  # PHASE_1_DURATION = 1 + 2: three steps in each RAVE phase, the first untimed
        p = wrapper["phases"][phase]
        assert p["steps"] == 3 and p["timed_steps"] == 2
        assert p["s_per_step_median"] > 0 and 0 <= p["data_wait_fraction"] < 1
    assert wrapper["phase"] == 2 and wrapper["step"] == 6, "the run must reach the adversarial phase"
    assert 0 < wrapper["speed_vs_plain_from_hooks"] < 1
    assert plain["profiler_step_s"] > 0 and wrapper["ratio_vs_plain_pairs"] == 1
    assert "train set:" in (tmp_path / "noise-b4-plain.log").read_text(), "plain rave train read the database"
    assert "| noise | v2_small | 4 | wrapper |" in out.with_suffix(".md").read_text()
