"""The nn~ contract, checked for every method at every buffer of the validation sweep (64 ... 8192,
spec.host.VALIDATION_BUFFERS) as the host runs them (a host
raises a small buffer to the largest ratio over all methods, so RAVE's forward asked at 64 runs at 2048).

Failures (exit 1, one line each): wrong output shape or dtype at a buffer the host runs (the host would
replay old blocks); non-finite output on finite hostile input (silence, DC, full-scale square, huge
values); non-deterministic output under a fixed seed; batch-4 output that disagrees with batch 1; a
file that does not load in a fresh process.
Warnings (reported, not failing): NaN/inf input reaching the output (the host must then guard it), one
NaN sample poisoning every later block (a streaming cache keeps it), randomness without a seed (e.g.
RAVE's noise).
"""

import subprocess
import sys

import torch

from audition.host import Host, effective_buffer
from audition.model_file import Export, as_export
from spec.host import DEFAULT_BUFFER, NN_TILDE_BUFFER, VALIDATION_BUFFERS

BUFFERS = list(VALIDATION_BUFFERS)


def hostile_inputs(c: int, n: int) -> dict[str, torch.Tensor]:
    t = torch.arange(n)
    return {
        "silence": torch.zeros(1, c, n),
        "DC 1.0": torch.ones(1, c, n),
        "full-scale square": torch.where((t // 32) % 2 == 0, 1.0, -1.0).expand(1, c, n).clone(),
        "huge 1e4": torch.full((1, c, n), 1e4),
        "huge -1e4": torch.full((1, c, n), -1e4),
    }


def non_finite_inputs(c: int, n: int) -> dict[str, torch.Tensor]:
    return {v: torch.full((1, c, n), float(v)) for v in ("nan", "inf", "-inf")}


def run_host(export: Export, method, buffer, x, seed=0) -> torch.Tensor:
    """One render on a fresh copy (streaming models carry state between calls)."""
    torch.manual_seed(seed)
    return torch.from_numpy(Host(export.fresh(), method, buffer, quiet=True).run(x.numpy()))


def check_method(source, method: str, buffers=BUFFERS) -> tuple[list[str], list[str]]:
    failures, warnings = [], []
    export = as_export(source)
    m = export.method(method)
    ok_buffers = sorted({effective_buffer(export, b) for b in buffers})
    where = f"{export.path.name}:{method}"
    fn = getattr(export.fresh().module, method)  # cached-conv state does not depend on the buffer size
    bad = {}
    for n in ok_buffers:
        x = torch.zeros(1, m.in_channels, n // m.in_ratio)
        with torch.inference_mode():
            y = fn(x)
        want = (1, m.out_channels, n // m.out_ratio)
        if tuple(y.shape) != want or y.dtype != torch.float32:
            bad[n] = f"{where} buffer {n}: output {tuple(y.shape)} {y.dtype}, nn~ needs {want} float32"
    good = [n for n in ok_buffers if n not in bad]
    failures += [f"{b} (the host replays the previous block)" for b in bad.values()]
    if not good:
        return failures, warnings
    ok_buffers = good
    n = DEFAULT_BUFFER if DEFAULT_BUFFER in ok_buffers else ok_buffers[-1]
    frames = 3 * n  # several buffers, so streaming state is exercised
    for name, x in hostile_inputs(m.in_channels, frames).items():
        y = run_host(export, method, n, x)
        if not torch.isfinite(y).all():
            failures.append(f"{where}: non-finite output for {name} input")
    for name, x in non_finite_inputs(m.in_channels, frames).items():
        y = run_host(export, method, n, x)
        if not torch.isfinite(y).all():
            warnings.append(f"{where}: {name} input reaches the output (guard it in the patch)")
            break
    x = torch.zeros(1, m.in_channels, frames)
    x[..., n // 2] = float("nan")  # one bad sample in the first buffer, then silence
    if not torch.isfinite(run_host(export, method, n, x)[..., -n:]).all():
        warnings.append(
            f"{where}: one NaN sample poisons every later block (a cache keeps it): the instrument "
            "stays silent/NaN until the host reloads it; guard the input (make export-<recipe> does)"
        )
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, m.in_channels, frames, generator=g) * 2 - 1
    a, b = run_host(export, method, n, x[:1]), run_host(export, method, n, x[:1])
    if not torch.equal(a, b):
        failures.append(f"{where}: two runs with the same input and seed differ")
    c = run_host(export, method, n, x[:1], seed=123)
    stochastic = not torch.equal(a, c)
    if stochastic:
        warnings.append(f"{where}: output is random unless torch.manual_seed is set (seed it to compare renders)")
    batch = run_host(export, method, n, x)
    if batch.shape[0] != 4:
        failures.append(f"{where}: batch 4 gave batch {batch.shape[0]}")
    elif not stochastic:
        for i in range(4):
            single = run_host(export, method, n, x[i : i + 1])
            if not torch.allclose(batch[i : i + 1], single, atol=1e-5, rtol=1e-4):
                failures.append(
                    f"{where}: batch item {i} differs from the same input at batch 1 "
                    f"(max {float((batch[i] - single[0]).abs().max()):.2e})"
                )
                break
    return failures, warnings


def loads_in_fresh_process(path) -> str | None:
    code = (
        "import sys, torch; from audition.model_file import method_names; m = torch.jit.load(sys.argv[1]);"
        f"[getattr(m, k)(torch.zeros(1, int(getattr(m, k + '_params')[0]), {NN_TILDE_BUFFER} // int(getattr(m, "
        f"k + '_params')[1])))"
        " for k in method_names(m)[0]]"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    if proc.returncode:
        return f"{path}: does not load and run in a fresh process ({proc.stderr.strip().splitlines()[-1][:200]})"
    return None


def validate(source, buffers=BUFFERS) -> tuple[list[str], list[str]]:
    """source: a path, or an Export already open (loaded once, fresh copies from memory)."""
    export = as_export(source)
    failures, warnings = [], []
    for method in export.methods:
        f, w = check_method(export, method, buffers)
        failures += f
        warnings += w
    problem = loads_in_fresh_process(export.path)
    if problem:
        failures.append(problem)
    return failures, warnings
