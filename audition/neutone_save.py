"""Save an export as a Neutone FX model with neutone-sdk's own checks (submission=True), profile it with
its benchmarks, and render through the saved .nm the way the plugin calls it.

    <folder>/<export stem>/model.nm        the file to load in Neutone FX
    <folder>/<export stem>/metadata.json   neutone-sdk's metadata; samples/ its rendered examples
    <folder>/<export stem>/profile.md      the knobs, then speed and delay per DAW rate and buffer
    <folder>/<export stem>/neutone.log     what neutone-sdk said while saving and profiling
Each folder is written beside under a temporary name and moved into place whole.
"""

import argparse
import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from audition.model_file import open_export
from audition.neutone_export import BUFFERS, buffers_for, fits, speed, wrapper
from safeio import UserError, atomic_write_text, cli_main, number, program
from spec.host import SR

RATES = (SR, 48000)


class Captured(logging.Handler):
    """neutone-sdk's log lines (its checks and benchmarks report through `logging`), kept for the profile."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def sdk_log():
    handler = Captured()
    loggers = [logging.getLogger(f"neutone_sdk.{n}") for n in ("utils", "metadata", "benchmark")]
    saved = [(lg.propagate, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False  # the sdk's chatter goes to the model's neutone.log, not the console
        lg.setLevel(logging.INFO)
    try:
        with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):  # its renders' progress bars
            yield handler.lines
    finally:
        for lg, (propagate, level) in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.propagate, lg.level = propagate, level


SPEED = re.compile(
    r"Sample rate:\s+(\d+) \| Buffer size:\s+(\d+) \| duration:\s+([\d.]+)±([\d.]+) \| 1/RTF:\s+([\d.]+)"
)
DELAY = re.compile(r"Sample rate:\s+(\d+) \| Buffer size:\s+(\d+) \| Total delay:\s+(\d+)")


def profile(model: Path, buffers: list[int]) -> tuple[str, str]:
    """neutone-sdk's own speed and delay benchmarks (its command line, in a process of their own: the speed
    one sets torch's thread counts, which a process may do once) at 44.1 and 48 kHz over the DAW buffers
    64-2048. -> (a markdown table, what the benchmarks said)."""
    daw = sorted(set(BUFFERS) | {b for b in buffers if b <= 4096})
    args = [f for b in daw for f in ("--buffer_size", str(b))] + [f for r in RATES for f in ("--sample_rate", str(r))]
    said = ""
    for command, extra in (
        ("benchmark-speed", ["--repeat", "3", "--n_iters", "10", "--daw_is_mono", "True"]),
        ("benchmark-latency", []),
    ):
        cmd = [sys.executable, "-m", "neutone_sdk.benchmark", command, "--model_file", str(model), *args, *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        said += proc.stdout + proc.stderr
        if proc.returncode:
            raise UserError(
                f"neutone-sdk's {command} failed on {model}: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"
            )
    speeds = {(int(m[1]), int(m[2])): float(m[5]) for m in SPEED.finditer(said)}
    delays = {(int(m[1]), int(m[2])): int(m[3]) for m in DELAY.finditer(said)}
    rows = ["| DAW rate | DAW buffer | x real time | delay (samples) | delay (ms) |", "|---:|---:|---:|---:|---:|"]
    for sr in RATES:
        for b in daw:
            d = delays[sr, b]
            rows.append(f"| {sr} | {b} | {speeds[sr, b]:.1f} | {d} | {d / sr * 1000:.1f} |")
    return "\n".join(rows) + "\n", said


def save(path: Path, folder: Path, buffers=None) -> Path:
    """The export at `path` as <folder>/<stem>/ (model.nm, metadata.json, samples/, profile.md)."""
    from neutone_sdk.utils import save_neutone_model

    export = open_export(path)
    fits(export)
    buffers = buffers_for(export, buffers)
    smallest = buffers[-1]
    rtf = speed(wrapper(export, buffers), smallest)  # a copy of its own: timing runs change a streaming state
    if rtf < 1.0:
        raise UserError(
            f"{path.name} runs at {rtf:.2f}x real time at buffer {smallest}, the smallest it would declare: "
            f"it would crackle in the DAW; declare larger buffers (e.g. --buffers {' '.join(map(str, buffers[:2]))})"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stage = Path(folder) / f".staging-neutone-{path.stem}-{os.getpid()}"
        stage.mkdir()
    except OSError as e:
        raise UserError(f"cannot write Neutone models into {folder} ({e.strerror}): choose a folder you can write to")
    fx = wrapper(export, buffers)
    try:
        with sdk_log() as lines:
            save_neutone_model(fx, stage, dump_samples=True, submission=True, speed_benchmark=False)
        table, said = profile(stage / "model.nm", buffers)
        (stage / "neutone.log").write_text("\n".join(lines) + "\n" + said)
        knobs = "\n".join(f"- **{r[0]}**: {r[1]}, default {r[4]:g}" for r in fx.knob_rows) or "- none"
        atomic_write_text(
            stage / "profile.md",
            f"# {path.stem} in Neutone FX\n\nKnobs:\n{knobs}\n\nneutone-sdk {sdk_version()}, on this machine, "
            f"{rtf:.1f}x real time at buffer {smallest} (44.1 kHz, in-process):\n\n{table}",
        )
        final = Path(folder) / path.stem
        shutil.rmtree(final, ignore_errors=True)
        os.replace(stage, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return final / "model.nm"


def sdk_version() -> str:
    from neutone_sdk.constants import SDK_VERSION

    return SDK_VERSION


def render(model: Path, x: np.ndarray, sr: int, daw_buffer: int, params=None) -> tuple[np.ndarray, int, int]:
    """x [n] through a saved .nm as the plugin calls it: set_daw_sample_rate_and_buffer_size, then one
    forward per DAW buffer (the tail padded with silence). -> (output [n], the delay the model reports,
    the model buffer neutone-sdk chose)."""
    from neutone_sdk.utils import load_neutone_model

    m, _ = load_neutone_model(str(model))
    m.set_daw_sample_rate_and_buffer_size(sr, daw_buffer)
    n = len(x)
    padded = np.zeros(-(-n // daw_buffer) * daw_buffer, np.float32)
    padded[:n] = x
    out = []
    with torch.inference_mode():
        for k in range(0, len(padded), daw_buffer):
            chunk = torch.from_numpy(padded[k : k + daw_buffer]).unsqueeze(0)
            p = None if params is None else torch.tensor(params, dtype=torch.float32).unsqueeze(1).repeat(1, daw_buffer)
            out.append(m.forward(chunk, p)[0].clone().numpy())
    delay = int(m.calc_buffering_delay_samples()) + int(m.calc_model_delay_samples())
    return np.concatenate(out)[:n], delay, int(m.model_bs)


def save_all(paths: list, folder: Path | None, buffers=None) -> list[Path]:
    """Every export named (or in the folders named) as a Neutone model in `folder` (default: a neutone/
    folder beside the first export); an export that cannot be one is a line at the end, the rest are made."""
    from audition.model_file import export_files

    files = export_files(paths)
    folder = Path(folder) if folder else files[0].parent / "neutone"
    made, failed = [], []
    for f in files:
        try:
            made.append(save(f, folder, buffers))
            print(f"neutone: {made[-1]}")
        except UserError as e:
            failed.append(f.name)
            print(f"no Neutone model: {e}", file=sys.stderr)
    if failed:
        raise UserError(f"{', '.join(failed)}: no Neutone model (see above); the others are in {folder}")
    return made


@cli_main
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog=program("python -m audition.neutone_save"), description=__doc__.split("\n\n")[0])
    ap.add_argument("exports", nargs="+", type=Path, help="exports (.ts) or folders of them")
    ap.add_argument("--out", type=Path, help="where the Neutone models go (default: neutone/ beside the exports)")
    ap.add_argument(
        "--buffers",
        type=number(int, 1, 1 << 15, "--buffers"),
        nargs="+",
        help="the buffers the models declare (default: 64-2048, or whole latent frames for RAVE)",
    )
    args = ap.parse_args(argv)
    save_all(args.exports, args.out, args.buffers)


if __name__ == "__main__":
    main()
