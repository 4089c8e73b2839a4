"""make realtime HOST=nn~: Pd with the real nn~ on the same JACK server, recorded by jack_rec (what Pd hands
JACK). nn~ makes Pd's scheduler wait for its model; when Pd falls behind, its JACK callback hands zeros, so
the counts of audition/jack.py apply."""

import subprocess
import time
from pathlib import Path

import soundfile as sf

from audition import real_hosts
from audition.jack import Lines, counts, stop
from audition.model_file import open_export
from audition.pd_patch import Patch, pd_symbol
from safeio import UserError
from safeio.environment import child_env
from spec.host import SR


def pd_patch(model: Path | None, method: str, buffer: int, inlets: int) -> str:
    """A saw on every inlet of [nn~ model method buffer] (or straight out, with no model) to the dac; at load,
    [bufsize N( before DSP starts (nn~'s 1-in/1-out quirk; none for buffer 0, nn~'s mode that runs the
    model inside Pd's DSP), then DSP on, then `READY` on Pd's stderr."""
    pd = Patch()
    load, trig = pd.box("obj loadbang", 10, 10), pd.box("obj t b b b", 10, 40)
    dsp, ready = pd.box("msg \\; pd dsp 1", 10, 70), pd.box("obj print READY", 10, 100)
    dac = pd.box("obj dac~", 10, 300)
    pd.chain(load, trig, ready)
    pd.wire(trig, dsp, 1)

    def saw(i: int) -> int:
        osc, centred = (
            pd.box(f"obj phasor~ {110 * (i + 1)}", 10 + 120 * i, 200),
            pd.box("obj -~ 0.5", 10 + 120 * i, 230),
        )
        pd.wire(osc, centred)
        return centred

    if model is None:
        out = saw(0)
    else:
        out = pd.box(f"obj nn~ {pd_symbol(model)} {method} {buffer}", 10, 260)
        if buffer:  # 0: no thread, no [bufsize(
            size = pd.box(f"msg bufsize {buffer}", 200, 40)
            pd.wire(trig, size, 2)
            pd.wire(size, out)
        for i in range(inlets):
            pd.wire(saw(i), out, 0, i)
    pd.wire(out, dac)
    pd.wire(out, dac, 0, 1)
    return pd.text()


def play_pd(
    nn_dir: Path, model: Path | None, method: str, buffer: int, seconds: float, work: Path, env: dict, jack: Lines
) -> dict:
    """Pd plays the patch on JACK; jack_rec records what Pd hands JACK (Pd's JACK callback hands zeros when
    its scheduler, held up by nn~ waiting for its model, is behind)."""
    name = model.name if model else "the saw alone"
    inlets = open_export(model).methods[method].in_channels if model else 1
    (work / "play.pd").write_text(pd_patch(model, method, buffer, inlets))
    pd = subprocess.Popen(
        ["pd", "-nogui", "-jack", "-r", str(SR), "-stderr", "-path", str(nn_dir), "-open", str(work / "play.pd")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**real_hosts.torch_env(), **env},
        start_new_session=True,
    )
    log = Lines(pd)
    try:
        for _ in range(600):  # the model loads before loadbang: up to a minute
            if "READY: bang" in log.text() or pd.poll() is not None:
                break
            time.sleep(0.1)
        if "READY: bang" not in log.text():
            raise UserError(f"Pd did not start {name} within a minute:\n{log.text()[-1500:]}")
        t0 = time.time()
        rec = subprocess.run(
            ["jack_rec", "-f", str(work / "out.wav"), "-d", str(seconds), "pure_data:output_1"],
            capture_output=True,
            text=True,
            env=child_env(**env),
            timeout=seconds + 60,
        )
        t1 = time.time()
    finally:
        stop(pd)
        (work / "pd.log").write_text(log.text())
    if rec.returncode or not (work / "out.wav").exists():
        raise UserError(f"jack_rec recorded nothing from Pd ({name}):\n{rec.stdout[-800:]}{rec.stderr[-800:]}")
    y, _ = sf.read(str(work / "out.wav"), dtype="float32", always_2d=True)
    (work / "out.wav").unlink()
    return counts(jack, "pure_data", t0, t1, y[:, 0])
