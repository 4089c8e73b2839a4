"""Write hosts/puredata/timeline.local.pd: play a training run's timeline live in nn~.

    python scripts/make_timeline_patch.py [--early A.ts] [--late B.ts] [--buffer N] [--out PATCH]
                                          [--record OUT.wav --seconds S --mix X]

Two checkpoint exports of one run (default: the oldest and the newest `make timeline-noise` wrote into
exports/timeline/noise/) play the same saw through `forward`, crossfaded by one slider (0: early,
1: late); beside them the late checkpoint's `decode` is driven by one slow sine LFO per latent
dimension (as many as the export has: the patch is generated for it), so you hear its latent space
with no input at all. --record: headless (pd -nrt -batch), write S seconds of the output to OUT.wav
with the slider at X, then quit; what the tests do.
"""

import argparse
import re
import sys
from pathlib import Path

from audition.pd_patch import Patch, pd_symbol
from safeio import UserError, atomic_write_text, cli_main
from spec import names
from spec.host import DEFAULT_BUFFER, SR

REPO = Path(__file__).resolve().parents[1]
LFO_HZ, LFO_DEPTH = 0.11, 1.5  # latent LFOs: slow, and about 1.5 standard deviations of RAVE's prior


def latent_dims(path: Path) -> int:
    from audition.model_file import open_export

    export = open_export(path)
    if "decode" not in export.methods or "forward" not in export.methods:
        raise UserError(
            f"{path}: not a RAVE streaming export (needs forward and decode); export one with make export-<recipe>"
        )
    return export.method("decode").in_channels


def add_recorder(pd: Patch, record: Path, seconds: float, trig, size, outs) -> None:
    """Record both outputs for `seconds` into `record` (a stereo WAV), then quit Pd."""
    obj, wire, chain = pd.box, pd.wire, pd.chain
    mix_out, latent_gain = outs
    n = int(seconds * SR)
    for c in range(2):
        obj(f"obj table rec{c} {n}", 300, 470 + 20 * c)
    writers = [obj(f"obj tabwrite~ rec{c}", 20 + 200 * c, 470) for c in range(2)]
    wire(mix_out, writers[0])
    wire(latent_gain, writers[1])
    for w in writers:
        wire(trig, w)
    wait = obj(f"obj delay {1000 * seconds + 100}", 200, 510)
    write = obj(f"msg write -wave -bytes 4 {pd_symbol(record.resolve())} rec0 rec1", 200, 540)
    files = obj("obj soundfiler", 200, 570)
    last = obj("obj t b b", 400, 540)
    quit_ = obj("msg \\; pd quit", 400, 570)
    chain(trig, wait, write, files, last)
    wire(last, size, 1)  # [bufsize N( again before quitting: nn~ then leaves the model alone as DSP stops
    wire(last, quit_)


def patch(early: Path, late: Path, buffer: int, dims: int, record: Path | None, seconds: float, mix: float) -> str:
    pd = Patch("40 40 900 620 12")
    obj, wire, chain = pd.box, pd.wire, pd.chain
    obj(
        "text Timeline of a run: the same saw through two checkpoints (slider: 0 early \\, 1 late) \\, and "
        "the late checkpoint's decoder driven by one slow LFO per latent dimension.",
        20,
        10,
    )
    load = obj("obj loadbang", 20, 50)
    trig = obj("obj t b b b", 20, 80)
    size = obj(f"msg bufsize {buffer}", 200, 110)
    dsp = obj("msg \\; pd dsp 1", 20, 110)
    wire(load, trig)
    wire(trig, size, 2)
    wire(trig, dsp, 1)
    saw = obj("obj phasor~ 55", 20, 160)
    saw_scale = obj("obj expr~ \\$v1 - 0.5", 20, 190)
    wire(saw, saw_scale)
    nn_early = obj(f"obj nn~ {pd_symbol(early.resolve())} forward {buffer}", 20, 240)
    nn_late = obj(f"obj nn~ {pd_symbol(late.resolve())} forward {buffer}", 20, 280)
    for nn in (nn_early, nn_late):
        wire(size, nn)
        wire(saw_scale, nn)
    slider = obj("floatatom 5 0 1 0 crossfade - - 0", 400, 160)
    init = obj(f"msg {mix}", 400, 130)
    wire(trig, init, 0)
    wire(init, slider)
    ramp = obj("obj pack 0 50", 400, 190)
    line = obj("obj line~", 400, 220)
    one_minus = obj("obj expr~ 1 - \\$v1", 500, 250)
    chain(slider, ramp, line, one_minus)
    a, b = obj("obj *~", 20, 330), obj("obj *~", 200, 330)
    wire(nn_early, a)
    wire(one_minus, a, 0, 1)
    wire(nn_late, b)
    wire(line, b, 0, 1)
    nn_dec = obj(f"obj nn~ {pd_symbol(late.resolve())} decode {buffer}", 600, 330)
    wire(size, nn_dec)
    for i in range(dims):  # one sine per dimension, each at its own rate so the path never repeats
        osc = obj(f"obj osc~ {LFO_HZ * (1 + 0.37 * i):.4f}", 600 + 90 * i, 260)
        depth = obj(f"obj *~ {LFO_DEPTH}", 600 + 90 * i, 290)
        wire(osc, depth)
        wire(depth, nn_dec, 0, i)
    mix_out, latent_gain = obj("obj *~ 0.3", 20, 380), obj("obj *~ 0.3", 600, 380)
    wire(a, mix_out)
    wire(b, mix_out)
    wire(nn_dec, latent_gain)
    dac = obj("obj dac~", 20, 430)
    wire(mix_out, dac)
    wire(latent_gain, dac, 0, 1)
    if record:  # headless: left = the crossfade, right = the latent LFO voice, then quit
        add_recorder(pd, record, seconds, trig, size, (mix_out, latent_gain))
    return pd.text()


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--early", type=Path, help="an early checkpoint's export (default: the oldest in exports/timeline/noise/)"
    )
    ap.add_argument("--late", type=Path, help="a late one's (default: the newest there)")
    ap.add_argument("--buffer", type=int, default=DEFAULT_BUFFER)
    ap.add_argument("--out", type=Path, default=REPO / "hosts/puredata/timeline.local.pd")
    ap.add_argument("--record", type=Path, help="headless: write the output here and quit")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--mix", type=float, default=0.5, help="the crossfade's starting value (0 early ... 1 late)")
    args = ap.parse_args(argv)
    if args.early is None or args.late is None:
        found = sorted(
            (REPO / "exports/timeline/noise").glob(f"*_step*{names.TRAINED_SUFFIX}"),
            key=lambda p: int(re.search(r"_step(\d+)_", p.name).group(1)),
        )
        if len(found) < 2:
            raise UserError(
                "no timeline exports in exports/timeline/noise/: run make timeline-noise first, "
                "or name two exports with --early and --late"
            )
        args.early, args.late = args.early or found[0], args.late or found[-1]
    if args.buffer < 512 or args.buffer & (args.buffer - 1):
        raise UserError(f"--buffer {args.buffer}: use a power of two of at least 512 (RAVE v2_small's latent frame)")
    if not 0 <= args.mix <= 1:
        raise UserError(f"--mix {args.mix}: the crossfade runs from 0 (early) to 1 (late)")
    for p in (args.early, args.late):
        if not p.is_file():
            raise UserError(f"{p}: no such export; run make timeline-noise (or make export-noise CKPT=<step>)")
    dims = latent_dims(args.late)
    atomic_write_text(args.out, patch(args.early, args.late, args.buffer, dims, args.record, args.seconds, args.mix))
    print(f"wrote {args.out}: {args.early.name} and {args.late.name}, {dims} latent LFO(s); open it in Pd with nn~")


if __name__ == "__main__":
    sys.exit(main())
