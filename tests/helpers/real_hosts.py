"""The real nn~ (in Pure Data) and nn.ar (in SuperCollider), built from their sources and run headless,
to hold audition to them.

NN_TILDE_SRC and NN_AR_SRC name their sources (a `git archive` .tar.gz or a folder); .ci/run sets them. The build is
cached outside the checkout (~/.cache/rave-to-chaos/, or RAVE_TO_CHAOS_CACHE), keyed by the source
and the torch version, so a second run reuses it. Without a source, tests skip saying why.
"""
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from helpers.cli import REPO
from spec.host import SR

CACHE = Path(os.environ.get("RAVE_TO_CHAOS_CACHE", Path.home() / ".cache" / "rave-to-chaos"))
TOOLS = {"pd": "puredata-core", "sclang": "supercollider-language", "scsynth": "supercollider-server",
         "cmake": "cmake", "g++": "g++"}
HEADERS = {"/usr/include/pd/m_pd.h": "puredata-dev",
           "/usr/include/SuperCollider/plugin_interface/SC_PlugIn.h": "supercollider-dev"}


def source_key(src: Path) -> str:
    h = hashlib.sha256()
    if src.is_file():
        h.update(src.read_bytes())
    else:
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(src)).encode() + f.read_bytes())
    import torch

    return f"{h.hexdigest()[:12]}-torch{torch.__version__}"


def built(setting: str, name: str, product: str, tools: tuple, header: str) -> tuple[Path | None, str]:
    """Build a real host's plugin from the source named by the environment variable `setting`, once
    per source and torch version. -> (folder holding it, "") or (None, why it cannot be had here)."""
    src = os.environ.get(setting)
    if not src:
        return None, f"{setting} is not set (a {name} source archive or folder; .ci/run sets it)"
    src = Path(src)
    if not src.exists():
        return None, f"{setting}={src} does not exist"
    missing = [TOOLS[t] for t in tools if shutil.which(t) is None] + [HEADERS[header]] * (not Path(header).exists())
    if missing:
        return None, f"missing {' '.join(missing)} (make setup installs them)"
    out = CACHE / f"{name}-{source_key(src)}"
    if not (out / product).exists():
        r = subprocess.run(["bash", str(REPO / f"hosts/real/build_{name}.sh"), str(src), str(out)],
                           capture_output=True, text=True, timeout=1800)
        if r.returncode:
            raise RuntimeError(f"building {name} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return out, ""


def nn_tilde() -> tuple[Path | None, str]:
    return built("NN_TILDE_SRC", "nn_tilde", "nn~.pd_linux", ("pd", "cmake", "g++"), "/usr/include/pd/m_pd.h")


def nn_ar() -> tuple[Path | None, str]:
    return built("NN_AR_SRC", "nn_ar", "nn.ar/NNUGens_scsynth.so", ("sclang", "scsynth", "cmake", "g++"),
                 "/usr/include/SuperCollider/plugin_interface/SC_PlugIn.h")


def torch_env(seed: int | None = None) -> dict:
    """The hosts load the venv's libtorch, as the plugins were built against it; with a seed, the host
    starts with libtorch's generator seeded (hosts/real/seed_torch.cpp, preloaded)."""
    import torch

    env = {**os.environ, "LD_LIBRARY_PATH": str(Path(torch.__file__).parent / "lib")}
    if seed is not None:
        env.update(LD_PRELOAD=str(seed_shim()), RAVE_TO_CHAOS_TORCH_SEED=str(seed))
    return env


def seed_shim() -> Path:
    """hosts/real/seed_torch.cpp compiled against the venv's torch, once per torch version (cached)."""
    import torch

    lib = Path(torch.__file__).parent
    out = CACHE / f"seed_torch-{torch.__version__}-{hashlib.sha256((REPO / 'hosts/real/seed_torch.cpp').read_bytes()).hexdigest()[:8]}.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        r = subprocess.run(["g++", "-shared", "-fPIC", "-O1", "-std=c++17", "-D_GLIBCXX_USE_CXX11_ABI=1",
                            f"-I{lib}/include", f"-I{lib}/include/torch/csrc/api/include",
                            str(REPO / "hosts/real/seed_torch.cpp"), f"-L{lib}/lib", "-ltorch_cpu", "-lc10",
                            f"-Wl,-rpath,{lib}/lib", "-o", str(tmp)], capture_output=True, text=True, timeout=900)
        if r.returncode:
            raise RuntimeError(f"building the torch seed shim failed:\n{r.stderr[-3000:]}")
        os.replace(tmp, out)
    return out


def pd_render(nn_dir: Path, model: Path, method: str, buffer: int, inputs: np.ndarray, work: Path,
              sr: int = SR, messages=(), seed: int | None = None, bufsize: bool = True) -> tuple[np.ndarray, str]:
    """Play `inputs` [inlets, T] through [nn~ model method buffer] in pd -nrt -batch; messages: (ms, text)
    sent to nn~ at that time, e.g. (500, "set seed 7"). -> (output [T], Pd's log)."""
    work.mkdir(parents=True, exist_ok=True)
    n = inputs.shape[-1]
    objects, links = [], []

    def obj(text: str) -> int:
        objects.append(text)
        return len(objects) - 1

    reads = []
    for i, x in enumerate(inputs):
        sf.write(str(work / f"in{i}.wav"), x.astype(np.float32), sr, subtype="FLOAT")
        obj(f"obj 10 {10 + 20 * i} table in{i} {n}")
        reads.append(f"read {work}/in{i}.wav in{i}")
    obj(f"obj 200 10 table out0 {n}")
    load = obj("obj 10 200 loadbang")
    trig = obj("obj 10 220 t b b b b")
    read = obj("msg 10 240 " + " \\, ".join(reads))
    files = obj("obj 10 260 soundfiler")
    size = obj(f"msg 100 240 bufsize {buffer}")
    nn = obj(f"obj 10 300 nn~ {model} {method} {buffer}")
    plays = [obj(f"obj {10 + 90 * i} 280 tabplay~ in{i}") for i in range(len(inputs))]
    rec = obj("obj 10 340 tabwrite~ out0")
    dsp = obj("msg 200 240 \\; pd dsp 1")
    wait = obj(f"obj 300 240 delay {1000 * n / sr + 100}")
    end = obj("obj 300 260 t b b b")
    write = obj(f"msg 300 280 write -wave -bytes 4 {work}/out.wav out0")
    files2 = obj("obj 300 300 soundfiler")
    quit_ = obj("msg 300 320 \\; pd quit")
    links += [(trig, 2, size, 0)] if bufsize else []   # [bufsize N( before DSP starts, as a patch should send it
    links += [(load, 0, trig, 0), (trig, 3, read, 0), (read, 0, files, 0), (size, 0, nn, 0),
              (trig, 1, dsp, 0), (trig, 0, rec, 0), (trig, 0, wait, 0), (nn, 0, rec, 0),
              (wait, 0, end, 0), (end, 2, write, 0), (write, 0, files2, 0), (end, 1, size, 0), (end, 0, quit_, 0)]
    links += [(trig, 0, p, 0) for p in plays] + [(p, 0, nn, i) for i, p in enumerate(plays)]
    for ms, text in messages:
        d, msg = obj(f"obj 400 {len(objects) * 5} delay {ms}"), obj(f"msg 400 {len(objects) * 5 + 20} {text}")
        links += [(trig, 0, d, 0), (d, 0, msg, 0), (msg, 0, nn, 0)]
    patch = ["#N canvas 0 0 600 400 12;"] + [f"#X {o};" for o in objects] + [f"#X connect {a} {b} {c} {d};" for a, b, c, d in links]
    (work / "render.pd").write_text("\n".join(patch) + "\n")
    r = subprocess.run(["pd", "-nogui", "-nosound", "-nrt", "-r", str(sr), "-stderr", "-batch", "-path", str(nn_dir),
                        "-open", str(work / "render.pd")], capture_output=True, text=True, timeout=600, env=torch_env(seed))
    log = r.stdout + r.stderr
    if not (work / "out.wav").exists():
        raise RuntimeError(f"pd wrote no output (exit {r.returncode}):\n{log[-3000:]}")
    y, _ = sf.read(str(work / "out.wav"), dtype="float32")
    return y[:n], log


def sc_render(nn_ar_dir: Path, model: Path, method: str, buffer: int, inputs: np.ndarray, work: Path,
              sr: int = SR, attributes: dict | None = None, changes=(), seed: int | None = None) -> tuple[np.ndarray, str, dict]:
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
        f'attributes: [{attrs}], changes: [{moves}])\n')
    log = run_sclang(nn_ar_dir, "render_nrt.scd", job, work, seed)
    info = yaml.safe_load((work / "info.yaml").read_text())[0] if (work / "info.yaml").exists() else {}
    if not (work / "out.wav").exists():
        raise RuntimeError(f"scsynth wrote no output:\n{log[-3000:]}")
    y, _ = sf.read(str(work / "out.wav"), dtype="float32", always_2d=True)
    return y.T[:, :n], log, info


def sc_plugins(nn_ar_dir: Path) -> str:
    """scsynth's -U: Debian's own UGens and the nn.ar build."""
    return f"/usr/lib/SuperCollider/plugins:{nn_ar_dir}/nn.ar"


def run_sclang(nn_ar_dir: Path, script: str, job: str, work: Path, seed: int | None = None) -> str:
    """Run hosts/real/<script> in a headless sclang that knows nn.ar's classes, with NN_JOB naming a
    file holding `job` (an sclang Event). -> sclang's and scsynth's log; raises if sclang failed."""
    (work / "job.scd").write_text(job)
    (work / "sclang.yaml").write_text(f"includePaths:\n  - {nn_ar_dir}/nn.ar/Classes\nexcludePaths: []\n")
    env = {**torch_env(seed), "NN_JOB": str(work / "job.scd"),
           "QTWEBENGINE_DISABLE_SANDBOX": "1", "QT_QPA_PLATFORM": "offscreen"}   # sclang as root, headless
    try:   # sclang waits at its prompt after an error it could not catch (a class missing): cap it
        r = subprocess.run(["sclang", "-l", str(work / "sclang.yaml"), str(REPO / "hosts/real" / script)],
                           capture_output=True, text=True, timeout=300, env=env)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"sclang did not finish in 300 s:\n{(e.stdout or b'')[-3000:]}") from None
    log = r.stdout + r.stderr + ((work / "scsynth.log").read_text() if (work / "scsynth.log").exists() else "")
    if r.returncode:
        raise RuntimeError(f"sclang failed (exit {r.returncode}):\n{log[-3000:]}")
    return log


def synthdefs(text: str) -> dict[str, str]:
    """The `SynthDef(\\name, {...})` expressions of an .scd file, by name (each ends at a line `}).add;`)."""
    return {m[1]: m[0][: -len(".add;")] for m in re.finditer(r"^SynthDef\(\\(\w+),.*?^\}\)\.add;", text, re.S | re.M)}


def sc_play_patches(nn_ar_dir: Path, models: dict, defs: dict, scenes: list, work: Path,
                    sr: int = SR) -> tuple[dict, str]:
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
    job = (f'(models: [{", ".join(f"{sc(k)}, {sc(v)}" for k, v in models.items())}], defs: [{", ".join(files)}], '
           f'work: "{work}", plugins: "{sc_plugins(nn_ar_dir)}", sr: {sr}, seed: 1984, '
           f'scenes: [{", ".join(f"[{sc(n)}, {s!r}, [{events(e)}]]" for n, s, e in scenes)}])\n')
    log = run_sclang(nn_ar_dir, "play_patches_nrt.scd", job, work)
    out = {}
    for name, _, _ in scenes:
        y, _ = sf.read(str(work / f"{name}.wav"), dtype="float32", always_2d=True)
        out[name] = y.T
    return out, log
