"""Timing on a shared machine: the median time per call after warm-up (`timed`), and two functions timed in
pairs back to back with the order alternating, so that a change in the machine's speed hits both alike
(`paired`). Every benchmark of the project times through these."""

import statistics
import time

import numpy as np


def timed(fn, repeats: int = 5, min_time: float = 0.2) -> float:
    """Median seconds per call of fn() after warm-up."""
    for _ in range(3):
        fn()
    n, t = 1, 0.0
    while t < min_time / repeats:
        n *= 2
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n)
    return statistics.median(runs)


def paired(fa, fb, pairs: int = 25, min_time: float = 0.02, warmup: int = 3) -> dict:
    """How much slower B is than A on a shared machine: pairs of timings taken back to back, the order
    alternating (A B, B A, ...) so that a change in the machine's speed hits both alike; each timing is
    n calls, n chosen so that A's take at least min_time. -> {"median", "q1", "q3"} of time B / time A
    over the pairs (the spread is the interquartile range), "a_s" and "b_s": median seconds per call."""
    for f in (fa, fb):
        for _ in range(warmup):
            f()
    n, t = 1, 0.0
    while t < min_time:
        n *= 2
        t0 = time.perf_counter()
        for _ in range(n):
            fa()
        t = time.perf_counter() - t0
    ratios, per_call = [], ([], [])
    for i in range(pairs):
        took = [0.0, 0.0]
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            f = (fa, fb)[which]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            took[which] = time.perf_counter() - t0
        ratios.append(took[1] / took[0])
        per_call[0].append(took[0] / n)
        per_call[1].append(took[1] / n)
    q1, med, q3 = (float(v) for v in np.percentile(ratios, [25, 50, 75]))
    return {
        "median": med,
        "q1": q1,
        "q3": q3,
        "pairs": pairs,
        "a_s": statistics.median(per_call[0]),
        "b_s": statistics.median(per_call[1]),
    }
