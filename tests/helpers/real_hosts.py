"""The real nn~ (in Pure Data) and nn.ar (in SuperCollider) run headless, outside real time, to hold audition
to them (their builds: audition.real_hosts). Without a source, tests skip saying why."""

import re
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from audition.pd_patch import Patch, pd_symbol
from audition.real_hosts import REPO, sc_plugins, sclang_setup, torch_env
from spec.host import SR


def pd_render(
    nn_dir: Path,
    model: Path,
    method: str,
    buffer: int,
    inputs: np.ndarray,
    work: Path,
    sr: int = SR,
    messages=(),
    seed: int | None = None,
    bufsize: bool = True,
) -> tuple[np.ndarray, str]:
    """Play `inputs` [inlets, T] through [nn~ model method buffer] in pd -nrt -batch; messages: (ms, text)
    sent to nn~ at that time, e.g. (500, "set seed 7"). -> (output [T], Pd's log)."""
    work.mkdir(parents=True, exist_ok=True)
    n = inputs.shape[-1]
    pd = Patch()
    obj = pd.box
    reads = []
    for i, x in enumerate(inputs):
        sf.write(str(work / f"in{i}.wav"), x.astype(np.float32), sr, subtype="FLOAT")
        obj(f"obj table in{i} {n}", 10, 10 + 20 * i)
        reads.append(f"read {pd_symbol(work)}/in{i}.wav in{i}")
    obj(f"obj table out0 {n}", 200, 10)
    load, trig = obj("obj loadbang", 10, 200), obj("obj t b b b b", 10, 220)
    read, files = obj("msg " + " \\, ".join(reads), 10, 240), obj("obj soundfiler", 10, 260)
    size = obj(f"msg bufsize {buffer}", 100, 240)
    nn = obj(f"obj nn~ {pd_symbol(model)} {method} {buffer}", 10, 300)
    plays = [obj(f"obj tabplay~ in{i}", 10 + 90 * i, 280) for i in range(len(inputs))]
    rec, dsp = obj("obj tabwrite~ out0", 10, 340), obj("msg \\; pd dsp 1", 200, 240)
    wait, end = obj(f"obj delay {1000 * n / sr + 100}", 300, 240), obj("obj t b b b", 300, 260)
    write = obj(f"msg write -wave -bytes 4 {pd_symbol(work)}/out.wav out0", 300, 280)
    files2, quit_ = obj("obj soundfiler", 300, 300), obj("msg \\; pd quit", 300, 320)
    if bufsize:  # [bufsize N( before DSP starts, as a patch should send it
        pd.wire(trig, size, 2)
    for a, outlet, b in [
        (load, 0, trig),
        (trig, 3, read),
        (read, 0, files),
        (size, 0, nn),
        (trig, 1, dsp),
        (trig, 0, rec),
        (trig, 0, wait),
        (nn, 0, rec),
        (wait, 0, end),
        (end, 2, write),
        (write, 0, files2),
        (end, 1, size),
        (end, 0, quit_),
    ]:
        pd.wire(a, b, outlet)
    for i, p in enumerate(plays):
        pd.wire(trig, p)
        pd.wire(p, nn, 0, i)
    for k, (ms, text) in enumerate(messages):
        d, msg = obj(f"obj delay {ms}", 400, 200 + 40 * k), obj(f"msg {text}", 400, 220 + 40 * k)
        pd.wire(trig, d)
        pd.chain(d, msg, nn)
    (work / "render.pd").write_text(pd.text())
    r = subprocess.run(
        [
            "pd",
            "-nogui",
            "-nosound",
            "-nrt",
            "-r",
            str(sr),
            "-stderr",
            "-batch",
            "-path",
            str(nn_dir),
            "-open",
            str(work / "render.pd"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=torch_env(seed),
    )
    log = r.stdout + r.stderr
    if not (work / "out.wav").exists():
        raise RuntimeError(f"pd wrote no output (exit {r.returncode}):\n{log[-3000:]}")
    y, _ = sf.read(str(work / "out.wav"), dtype="float32")
    return y[:n], log


def sc_render(
    nn_ar_dir: Path,
    model: Path,
    method: str,
    buffer: int,
    inputs: np.ndarray,
    work: Path,
    sr: int = SR,
    attributes: dict | None = None,
    changes=(),
    seed: int | None = None,
) -> tuple[np.ndarray, str, dict]:
    """Play `inputs` [inlets, T] through nn.ar's `method.ar(inputs, buffer, attributes: [...])` in scsynth -N
    (hosts/real/render_nrt.scd). attributes: {name: initial value} as synth controls; changes: (seconds,
    name, value) sent as /n_set while it plays. -> (output [outlets, T], the log, nn.ar's model info)."""
    import yaml

    work.mkdir(parents=True, exist_ok=True)
    for f in ("scsynth.log", "out.wav", "info.yaml"):
        (work / f).unlink(missing_ok=True)
    n = inputs.shape[-1]
    sf.write(str(work / "in.wav"), inputs.T.astype(np.float32), sr, subtype="FLOAT")
    attrs = ", ".join(f"'{k}', {float(v)!r}" for k, v in (attributes or {}).items())
    moves = ", ".join(f"[{t!r}, '{k}', {float(v)!r}]" for t, k, v in changes)
    job = (
        f'(model: "{model}", method: "{method}", buffer: {buffer}, input: "{work}/in.wav", output: "{work}/out.wav", '
        f'work: "{work}", plugins: "{sc_plugins(nn_ar_dir)}", seconds: {n / sr!r}, sr: {sr}, '
        f"attributes: [{attrs}], changes: [{moves}])\n"
    )
    log = run_sclang(nn_ar_dir, "render_nrt.scd", job, work, seed)
    info = yaml.safe_load((work / "info.yaml").read_text())[0] if (work / "info.yaml").exists() else {}
    if not (work / "out.wav").exists():
        raise RuntimeError(f"scsynth wrote no output:\n{log[-3000:]}")
    y, _ = sf.read(str(work / "out.wav"), dtype="float32", always_2d=True)
    return y.T[:, :n], log, info


def run_sclang(nn_ar_dir: Path, script: str, job: str, work: Path, seed: int | None = None) -> str:
    """Run hosts/real/<script> in a headless sclang that knows nn.ar's classes, with NN_JOB naming a
    file holding `job` (an sclang Event). -> sclang's and scsynth's log; raises if sclang failed."""
    sclang, env = sclang_setup(nn_ar_dir, work, job, seed)
    try:  # sclang waits at its prompt after an error it could not catch (a class missing): cap it
        r = subprocess.run(
            [*sclang, str(REPO / "hosts/real" / script)], capture_output=True, text=True, timeout=300, env=env
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"sclang did not finish in 300 s:\n{(e.stdout or b'')[-3000:]}") from None
    log = r.stdout + r.stderr + ((work / "scsynth.log").read_text() if (work / "scsynth.log").exists() else "")
    if r.returncode:
        raise RuntimeError(f"sclang failed (exit {r.returncode}):\n{log[-3000:]}")
    return log


def synthdefs(text: str) -> dict[str, str]:
    """The `SynthDef(\\name, {...})` expressions of an .scd file, by name (each ends at a line `}).add;`)."""
    return {m[1]: m[0][: -len(".add;")] for m in re.finditer(r"^SynthDef\(\\(\w+),.*?^\}\)\.add;", text, re.S | re.M)}


def sc_play_patches(
    nn_ar_dir: Path, models: dict, defs: dict, scenes: list, work: Path, sr: int = SR
) -> tuple[dict, str]:
    """Play SynthDefs (name -> source) with the models (key -> path) loaded, in scsynth -N
    (hosts/real/play_patches_nrt.scd). scenes: (name, seconds, [(time, def name, [arg, value, ...])]).
    -> ({scene: stereo output [2, T]}, the log)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "scsynth.log").unlink(missing_ok=True)
    files = []
    for name, source in defs.items():
        (work / f"{name}.def.scd").write_text(source)
        files.append(f'"{work}/{name}.def.scd"')
    sc = lambda v: f'"{v}"' if isinstance(v, (str, Path)) else repr(v)
    events = lambda evs: ", ".join(f"[{t!r}, '{d}', [{', '.join(sc(a) for a in args)}]]" for t, d, args in evs)
    job = (
        f"(models: [{', '.join(f'{sc(k)}, {sc(v)}' for k, v in models.items())}], defs: [{', '.join(files)}], "
        f'work: "{work}", plugins: "{sc_plugins(nn_ar_dir)}", sr: {sr}, seed: 1984, '
        f"scenes: [{', '.join(f'[{sc(n)}, {s!r}, [{events(e)}]]' for n, s, e in scenes)}])\n"
    )
    log = run_sclang(nn_ar_dir, "play_patches_nrt.scd", job, work)
    out = {}
    for name, _, _ in scenes:
        y, _ = sf.read(str(work / f"{name}.wav"), dtype="float32", always_2d=True)
        out[name] = y.T
    return out, log
