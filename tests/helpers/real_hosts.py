"""The real nn~ in a real Pure Data, built from its source and run headless, to hold audition to it.

NN_TILDE_SRC names nn~'s source (a `git archive` .tar.gz or a folder); .ci/run sets it. The build is
cached outside the checkout (~/.cache/rave-to-chaos/, or RAVE_TO_CHAOS_CACHE), keyed by the source
and the torch version, so a second run reuses it. Without a source, tests skip saying why.
"""
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from helpers.cli import REPO

CACHE = Path(os.environ.get("RAVE_TO_CHAOS_CACHE", Path.home() / ".cache" / "rave-to-chaos"))
PD_TOOLS = {"pd": "puredata-core", "cmake": "cmake", "g++": "g++"}


def source_key(src: Path) -> str:
    h = hashlib.sha256()
    if src.is_file():
        h.update(src.read_bytes())
    else:
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(src)).encode() + f.read_bytes())
    import torch

    return f"{h.hexdigest()[:12]}-torch{torch.__version__}"


def nn_tilde() -> tuple[Path | None, str]:
    """-> (folder holding nn~.pd_linux, "") or (None, why it cannot be had here)."""
    src = os.environ.get("NN_TILDE_SRC")
    if not src:
        return None, "NN_TILDE_SRC is not set (a nn_tilde source archive or folder; .ci/run sets it)"
    src = Path(src)
    if not src.exists():
        return None, f"NN_TILDE_SRC={src} does not exist"
    missing = [pkg for tool, pkg in PD_TOOLS.items() if shutil.which(tool) is None]
    if missing or not Path("/usr/include/pd/m_pd.h").exists():
        return None, f"missing {' '.join(missing + ['puredata-dev'])} (make setup installs them)"
    out = CACHE / f"nn_tilde-{source_key(src)}"
    if not (out / "nn~.pd_linux").exists():
        r = subprocess.run(["bash", str(REPO / "hosts/real/build_nn_tilde.sh"), str(src), str(out)],
                           capture_output=True, text=True, timeout=1800)
        if r.returncode:
            raise RuntimeError(f"building nn~ failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return out, ""


def pd_render(nn_dir: Path, model: Path, method: str, buffer: int, inputs: np.ndarray, work: Path,
              sr: int = 44100, messages=()) -> tuple[np.ndarray, str]:
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
    links += [(load, 0, trig, 0), (trig, 3, read, 0), (read, 0, files, 0), (trig, 2, size, 0), (size, 0, nn, 0),
              (trig, 1, dsp, 0), (trig, 0, rec, 0), (trig, 0, wait, 0), (nn, 0, rec, 0),
              (wait, 0, end, 0), (end, 2, write, 0), (write, 0, files2, 0), (end, 1, size, 0), (end, 0, quit_, 0)]
    links += [(trig, 0, p, 0) for p in plays] + [(p, 0, nn, i) for i, p in enumerate(plays)]
    for ms, text in messages:
        d, msg = obj(f"obj 400 {len(objects) * 5} delay {ms}"), obj(f"msg 400 {len(objects) * 5 + 20} {text}")
        links += [(trig, 0, d, 0), (d, 0, msg, 0), (msg, 0, nn, 0)]
    patch = ["#N canvas 0 0 600 400 12;"] + [f"#X {o};" for o in objects] + [f"#X connect {a} {b} {c} {d};" for a, b, c, d in links]
    (work / "render.pd").write_text("\n".join(patch) + "\n")
    import torch

    env = {**os.environ, "LD_LIBRARY_PATH": str(Path(torch.__file__).parent / "lib")}
    r = subprocess.run(["pd", "-nogui", "-nosound", "-nrt", "-r", str(sr), "-stderr", "-batch", "-path", str(nn_dir),
                        "-open", str(work / "render.pd")], capture_output=True, text=True, timeout=600, env=env)
    log = r.stdout + r.stderr
    if not (work / "out.wav").exists():
        raise RuntimeError(f"pd wrote no output (exit {r.returncode}):\n{log[-3000:]}")
    y, _ = sf.read(str(work / "out.wav"), dtype="float32")
    return y[:n], log
