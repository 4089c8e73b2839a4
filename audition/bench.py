"""Real-time factor, latency and memory of every method of an export, as a host runs it.

RTF = seconds of audio per second of compute, one thread, median of repeats after warm-up, at 44.1 kHz
unless the model says otherwise. Latency = host buffering (2N - 64 in nn~'s threaded mode) plus the
model's own delay (first output sample that moves when an impulse arrives, same seed). Peak memory is
the resident set of a fresh process that loads the model and runs the benchmark. Prints, never asserts.
"""

import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from audition.host import Host
from audition.model_file import open_export
from audition.timing import timed
from safeio.environment import child_env
from spec.host import BENCH_BUFFERS, DEFAULT_BUFFER, SAFE_SHARE, SR, WORST_CASE_BLOCKS, latency

WORST_KEYS = ("blocks", "p50_ms", "p99_ms", "p999_ms", "max_ms", "deadline_ms", "safe")


def model_delay(path, method: str, buffer: int) -> int | None:
    """Samples between an impulse on inlet 0 and the first output sample that changes (same seed)."""
    export = open_export(path)
    m = export.method(method)
    if m.in_ratio > 1 or m.out_ratio > 1:
        return None  # latent-rate methods: no sample-level impulse response
    t = 4 * max(buffer, DEFAULT_BUFFER)
    base = np.zeros((1, m.in_channels, t), np.float32)
    base[:, 1:] = 1.0  # controls at a neutral, non-zero value
    hit = base.copy()
    pos = t // 2 + 7  # not on a buffer edge
    hit[0, 0, pos] = 1.0
    outs = []
    for x in (base, hit):
        torch.manual_seed(0)
        outs.append(Host(open_export(path), method, buffer, quiet=True).run(x))
    moved = np.flatnonzero(np.abs(outs[1] - outs[0]).max(axis=(0, 1)) > 1e-6)
    return int(moved[0] - pos) if len(moved) else None


def block_times(host: Host, m, blocks: int) -> np.ndarray:
    """Seconds per block of `blocks` blocks in a row, timed in a thread of its own as nn~ computes (its
    perform thread), on noise and controls at their nominal values, each block new input."""
    import threading

    g = torch.Generator().manual_seed(0)
    frames = []
    for _ in range(8):  # a few different blocks, cycled: the model's input changes every call
        f = torch.rand(1, m.in_channels, host.buffer, generator=g) * 2 - 1
        for i in range(1, m.in_channels):
            f[:, i] = m.nominal(i) if m.range(i) else f[:, i]
        frames.append(f)
    took = np.zeros(blocks)

    def perform():
        with torch.inference_mode():
            for k in range(10):
                host.process_buffer(frames[k % 8])
            for k in range(blocks):
                t0 = time.perf_counter()
                host.process_buffer(frames[k % 8])
                took[k] = time.perf_counter() - t0

    worker = threading.Thread(target=perform)
    worker.start()
    worker.join()
    return took


def worst_case(host: Host, m, sr: int, blocks: int = WORST_CASE_BLOCKS) -> dict:
    """The block-time distribution against the block's deadline (N / sr): what a performer hears is the
    worst block, not the mean."""
    t = block_times(host, m, blocks) * 1e3
    p50, p99, p999 = (float(v) for v in np.percentile(t, [50, 99, 99.9]))
    deadline = 1e3 * host.buffer / sr
    return {
        "blocks": blocks,
        "p50_ms": p50,
        "p99_ms": p99,
        "p999_ms": p999,
        "max_ms": float(t.max()),
        "deadline_ms": deadline,
        "safe": p999 < SAFE_SHARE * deadline,
    }


def safe_buffers(rows: list[dict]) -> dict:
    """Per model:method, the smallest buffer whose p99.9 block time stays under SAFE_SHARE of its deadline
    (None: none measured is)."""
    out = {}
    for r in rows:
        key = f"{r['model']}:{r['method']}"
        out.setdefault(key, None)
        if r.get("safe") and (out[key] is None or r["buffer"] < out[key]):
            out[key] = r["buffer"]
    return out


def bench_export(path, buffers=BENCH_BUFFERS, blocks: int = 0) -> list[dict]:
    """blocks > 0: also the block-time distribution over that many blocks (worst_case)."""
    torch.set_num_threads(1)
    export = open_export(path)
    sr = export.sampling_rate or SR
    rows = []
    for method, m in export.methods.items():
        for asked in buffers:
            host = Host(open_export(path), method, asked, quiet=True)
            n = host.buffer  # what the host really runs (rounded up, raised to the largest ratio)
            torch.manual_seed(0)
            frame = torch.rand(1, m.in_channels, n) * 2 - 1
            raw_in = frame[..., m.in_ratio - 1 :: m.in_ratio]
            with torch.inference_mode():
                if host.fn(raw_in).shape[-1] * m.out_ratio != n:
                    continue  # the host would replay old blocks (validate fails it); nothing to time
            with torch.inference_mode():
                t_host = timed(lambda: host.process_buffer(frame))
                t_raw = timed(lambda: host.fn(raw_in))
            delay = model_delay(path, method, n)
            lat = latency(n) + (delay or 0)
            rows.append(
                {
                    "model": export.path.name,
                    "method": method,
                    "buffer": n,
                    "asked": asked,
                    "rtf": (n / sr) / t_host,
                    "ms_per_buffer": t_host * 1e3,
                    "host_overhead_pct": 100 * (t_host - t_raw) / t_raw,
                    "model_delay": delay,
                    "latency_samples": lat,
                    "latency_ms": 1e3 * lat / sr,
                }
            )
            if blocks:
                same = next(
                    (r for r in rows[:-1] if r["method"] == method and r["buffer"] == n and "p999_ms" in r), None
                )
                rows[-1].update({k: same[k] for k in WORST_KEYS} if same else worst_case(host, m, sr, blocks))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for r in rows:
        r["peak_rss_mb"] = peak_mb
    return rows


def bench_in_fresh_process(path, buffers=BENCH_BUFFERS, blocks: int = 0) -> list[dict]:
    """Each export in its own process, so peak memory is its own."""
    code = (
        "import json, sys; from audition.bench import bench_export; "
        "print(json.dumps(bench_export(sys.argv[1], %r, %d)))" % (tuple(buffers), blocks)
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=child_env(OMP_NUM_THREADS="1")
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "benchmark failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worst_table(rows: list[dict]) -> str:
    """Block times against the deadline, and the safe buffer of each method."""
    head = (
        f"{'model':<36} {'method':<8} {'buffer':>6} {'deadline':>9} {'median':>8} {'p99':>8} {'p99.9':>8} "
        f"{'max':>8}  (ms over {rows[0]['blocks'] if rows else 0} blocks)"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if "p999_ms" in r and r.get("asked", r["buffer"]) == r["buffer"]:
            lines.append(
                f"{r['model'][:36]:<36} {r['method']:<8} {r['buffer']:>6} {r['deadline_ms']:>9.2f} {r['p50_ms']:>8.3f} "
                f"{r['p99_ms']:>8.3f} {r['p999_ms']:>8.3f} {r['max_ms']:>8.3f}{'' if r['safe'] else '  not safe'}"
            )
    lines.append(f"\nsafe buffer (smallest whose p99.9 stays under {SAFE_SHARE:.0%} of the deadline):")
    for key, n in safe_buffers(rows).items():
        lines.append(f"  {key}: {n if n else 'none of those measured'}")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    head = (
        f"{'model':<36} {'method':<8} {'buffer':>9} {'RTF':>8} {'ms/buf':>8} {'host +%':>8} {'latency':>14} "
        f"{'peak MB':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lat = f"{r['latency_samples']} ({r['latency_ms']:.0f} ms)"
        buf = str(r["buffer"]) if r.get("asked", r["buffer"]) == r["buffer"] else f"{r['asked']}>{r['buffer']}"
        lines.append(
            f"{r['model'][:36]:<36} {r['method']:<8} {buf:>9} {r['rtf']:>8.1f} {r['ms_per_buffer']:>8.3f} "
            f"{r['host_overhead_pct']:>8.1f} {lat:>14} {r['peak_rss_mb']:>8.0f}"
        )
    return "\n".join(lines)
