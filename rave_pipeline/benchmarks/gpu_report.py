"""reports/gpu.json and reports/gpu.md from bench-gpu's runs: the wrapper's cost against plain rave train,
the memory fit and the proposed batch table, and one line per run."""

import json
from pathlib import Path

import numpy as np

from rave_pipeline.benchmarks.gpu_plan import CONTEXT_GB, HEADROOM, fit_memory, propose
from rave_pipeline.commands import recipes
from safeio import atomic_write_text


def markdown(report: dict) -> str:
    lines = [
        f"Measured on {report['device']} ({report['gpu_total_gb'] or 0:.0f} GB), torch {report['torch']}, "
        f"{report['steps']} timed steps per phase after {report['warmup']} warm-up steps, n_signal as in the recipe.",
        "",
        "| recipe | config | batch | run | phase 1 s/step | phase 2 s/step | data wait 1 / 2 | peak GB alloc / "
        "reserved (phase 2) | wrapper hooks ms/step (speed vs plain) | plain/wrapper profiler means: median "
        "[IQR] of pairs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        p1, p2 = r.get("phases", {}).get("1", {}), r.get("phases", {}).get("2", {})

        def f(d, k, fmt):
            return format(d[k], fmt) if k in d else "–"

        card = f", {r['card_gb']:g} GB card" if r.get("card_gb") else ""
        kind = r["kind"] + card + (f", pair {r['pair']}" if r.get("pair") else "")
        if "error" in r:
            lines.append(f"| {r['recipe']} | {r['config']} | {r['batch']} | {kind} | {r['error']} | | | | | |")
            continue
        wait = f"{f(p1, 'data_wait_fraction', '.1%')} / {f(p2, 'data_wait_fraction', '.1%')}"
        mem = (
            f"{f(p2, 'peak_allocated_gb', '.1f')} / {f(p2, 'peak_reserved_gb', '.1f')}"
            if "peak_reserved_gb" in p2
            else f"RSS {r.get('peak_rss_gb', 0):.1f}"
        )
        if r["kind"] == "plain":
            mem = f"(Lightning profiler: {r.get('profiler_step_s', 0):.3f} s/step)"
        ratio = (
            f"{r['ratio_vs_plain']:.3f} [{r['ratio_vs_plain_iqr'][0]:.3f}, {r['ratio_vs_plain_iqr'][1]:.3f}], "
            f"{r['ratio_vs_plain_pairs']} pairs"
            if "ratio_vs_plain_iqr" in r
            else f"{r['ratio_vs_plain']:.3f}"
            if "ratio_vs_plain" in r
            else ""
        )
        hooks = (
            f"{1000 * r['wrapper_callbacks_s_per_step']:.2f} ({r['speed_vs_plain_from_hooks']:.4f})"
            if "speed_vs_plain_from_hooks" in r
            else ""
        )
        lines.append(
            f"| {r['recipe']} | {r['config']} | {r['batch']} | {kind} | {f(p1, 's_per_step_median', '.3f')} | "
            f"{f(p2, 's_per_step_median', '.3f')} | {wait} | {mem} | {hooks} | {ratio} |"
        )
    for name, prop in report.get("proposed_batch_by_gpu_gb", {}).items():
        fit = report["memory_fit"][name]
        lines += [
            "",
            f"{name}: peak reserved ≈ {fit['fixed_gb']:.2f} GB + {fit['gb_per_example']:.3f} GB × batch; "
            f"proposed batch by card memory ({HEADROOM:.0%} headroom, {CONTEXT_GB} GB context): "
            + ", ".join(f"{gb} GB → {b or 'too small'}" for gb, b in prop.items()),
        ]
    return "\n".join(lines)


def profiled_s(run: dict) -> float:
    """Seconds per step by Lightning's profiler: the batch, and the wait for it."""
    return run["profiler_step_s"] + run.get("profiler_data_s", 0)


def analyse(report: dict) -> dict:
    """Add the wrapper's cost, the plain comparison, the memory fit and proposed batches to a report."""
    results = report["runs"]
    for r in results:  # the wrapper's own cost: its hooks' time per step against the step it wraps
        steps_s = [p["s_per_step_median"] for p in r.get("phases", {}).values() if "s_per_step_median" in p]
        if "wrapper_callbacks_s_per_step" in r and steps_s:
            r["speed_vs_plain_from_hooks"] = min(s / (s + r["wrapper_callbacks_s_per_step"]) for s in steps_s)
    for w in results:  # and against plain rave train: Lightning-profiler means (cuDNN autotuning in warm-up
        # steps included), per pair of runs timed back to back; the median over pairs and its spread
        if w["kind"] != "wrapper" or w.get("pair", 0) != 0 or "profiler_step_s" not in w:
            continue
        ratios = []
        for k in sorted({r.get("pair", 0) for r in results}):
            half = {
                r["kind"]: r
                for r in results
                if r["recipe"] == w["recipe"]
                and r["batch"] == w["batch"]
                and r.get("pair", 0) == k
                and "profiler_step_s" in r
            }
            if {"wrapper", "plain"} <= set(half):
                ratios.append(profiled_s(half["plain"]) / profiled_s(half["wrapper"]))
        if ratios:
            q1, w["ratio_vs_plain"], q3 = (float(v) for v in np.percentile(ratios, [25, 50, 75]))
            w["ratio_vs_plain_iqr"], w["ratio_vs_plain_pairs"] = [q1, q3], len(ratios)
    report["memory_fit"], report["proposed_batch_by_gpu_gb"] = {}, {}
    gpu_gb = report["gpu_total_gb"]
    for name in dict.fromkeys(r["recipe"] for r in results):
        # phase 2 only: phase 1's peak holds cuDNN's autotuning, which takes whatever memory is free
        points = [
            (r["batch"], r["phases"]["2"]["peak_reserved_gb"])
            for r in results
            if r["recipe"] == name and r["kind"] == "wrapper" and "peak_reserved_gb" in r.get("phases", {}).get("2", {})
        ]
        fit = fit_memory(points)
        if fit and gpu_gb:
            recipe = recipes.load(name)
            rows = set(recipe.batch_by_gpu_gb)
            marketed = int(gpu_gb * 1e9 / 2**30)  # cards are sold by GiB: 80 GB = 85.5e9 bytes
            if not any(abs(r - marketed) <= 0.05 * marketed for r in rows):
                rows.add(marketed)
            rows = sorted(rows)
            report["memory_fit"][name] = {"fixed_gb": fit[0], "gb_per_example": fit[1], "points": points}
            report["proposed_batch_by_gpu_gb"][name] = propose(fit, rows, recipe.cpu_batch)
    return report


def write(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(report, indent=1))
    md = markdown(report)
    atomic_write_text(out.with_suffix(".md"), md + "\n")
    print()
    print(md)
    print(f"\nwrote {out} and {out.with_suffix('.md')}")


def summary(r: dict) -> str:
    if "error" in r:
        return f"failed: {r['error']} ({r['wall_s']:.0f} s)"
    parts = []
    for k in ("1", "2"):
        p = r.get("phases", {}).get(k, {})
        if "s_per_step_median" in p:
            mem = f", peak {p['peak_reserved_gb']:.1f} GB" if "peak_reserved_gb" in p else ""
            parts.append(f"phase {k} {p['s_per_step_median']:.3f} s/step, data wait {p['data_wait_fraction']:.1%}{mem}")
    if "profiler_step_s" in r:
        parts.append(f"profiler {r['profiler_step_s']:.3f} s/step")
    return "; ".join(parts or ["no timing found"]) + f" ({r['wall_s']:.0f} s)"
