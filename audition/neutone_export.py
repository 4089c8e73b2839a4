"""Which exports can be a Neutone FX model, with which knobs and buffers (audition/neutone.py holds the
wrapper; audition/neutone_save.py saves it)."""

import re
import time

import numpy as np
import torch

from audition.model_file import Export
from audition.neutone import FX, KNOBS, LATENT_SPAN, SEEDS, LiveFX, RaveFX
from safeio import UserError
from spec.host import SR

BUFFERS = (64, 128, 256, 512, 1024, 2048)  # a hand-written export's (ratio 1): the DAW's usual ones
CITATION = (
    "After the essay 'From RAVE to Chaos: Neural Audio Synthesis as Instrument Design' (2026). RAVE: Caillon "
    "and Esling, 'RAVE: A variational autoencoder for fast and high-quality neural audio synthesis', arXiv:2111.05011."
)


def fits(export: Export) -> None:
    """One sentence when `forward` cannot be a Neutone FX: audio in and out, one or two outputs, every
    inlet after the first typed (so it can be a knob or held), and no more than one untyped input."""
    name = export.path.name
    if "forward" not in export.methods:
        raise UserError(f"{name} has no forward method (it has {', '.join(export.methods)}): Neutone plays forward")
    m = export.methods["forward"]
    if m.in_ratio != 1 or m.out_ratio != 1:
        raise UserError(
            f"{name}: forward does not take and give audio (one value per sample; its ratios are {m.in_ratio} in, "
            f"{m.out_ratio} out): Neutone FX needs audio in and audio out"
        )
    if m.out_channels > 2:
        raise UserError(f"{name}: forward has {m.out_channels} outputs; Neutone FX plays one or two")
    untyped = [i for i, inlet in enumerate(m.inlets) if inlet is None and i > 0]
    if untyped:
        raise UserError(
            f"{name}: forward has {m.in_channels} inputs and input(s) {', '.join(str(i + 1) for i in untyped)} have no "
            "typed range: Neutone FX takes one audio input and knobs; re-export with typed ranges"
        )


def plan(export: Export) -> tuple[type, list, list]:
    """(wrapper class, knob rows [name, description, low, high, default, inlet or -1], held inlet values)."""
    m = export.methods["forward"]
    nominal = [m.nominal(i) for i in range(m.in_channels)]
    if m.in_channels == 1 and {"encode", "decode"} <= set(export.methods) and takes_from_forward(export):  # RAVE
        dims = export.methods["encode"].out_channels
        rows = [
            [
                f"latent {i + 1}",
                f"offset of latent {i + 1} (RAVE's prior: unit Gaussian)",
                -LATENT_SPAN,
                LATENT_SPAN,
                0.0,
                -1,
            ]
            for i in range(min(KNOBS, dims))
        ]
        return RaveFX, rows, nominal
    live = {"seed", "w_mult"} <= set(export.attributes())
    room = KNOBS - 2 * live
    rows = [
        [i.name, f"{described(i)} (inlet {k + 1})", i.low, i.high, i.nominal, k] for k, i in enumerate(m.inlets[1:], 1)
    ]
    rows = rows[:room]
    if not live:
        return FX, rows, nominal
    low, high = (float(v) for v in (export.module.w_mult_low, export.module.w_mult_high))
    seed, w_mult = int(export.module.get_seed()), float(export.module.get_w_mult())
    rows += [
        [
            "seed",
            f"the weights' seed, 0 to {SEEDS - 1} (attribute)",
            0.0,
            float(SEEDS - 1),
            float(min(seed, SEEDS - 1)),
            -1,
        ],
        ["w_mult", f"weight gain, {low:g} to {high:g} (attribute)", low, high, w_mult, -1],
    ]
    return LiveFX, rows, nominal


def takes_from_forward(export: Export) -> bool:
    """acids-rave's exports decode(z, from_forward): its forward is decode(encode(x), True)."""
    return [a.name for a in export.module.decode.schema.arguments][2:] == ["from_forward"]


def described(inlet) -> str:
    """An inlet's label without the host's '(signal) ' prefix, with its unit: 'mod1: sine fold depth, 1 to 18 x pi'."""
    text = re.sub(r"^\(\w+\)\s*", "", inlet.meaning)
    return f"{text} {inlet.unit}".strip() if inlet.unit and inlet.unit not in text else text


def buffers_for(export: Export, asked=None) -> list[int]:
    ratio = max(m.in_ratio for m in export.methods.values())  # RAVE: a buffer is whole latent frames
    if asked:
        bad = [b for b in asked if b % ratio]
        if bad:
            raise UserError(f"{export.path.name} runs on multiples of {ratio} samples; buffer {bad[0]} is not one")
        return sorted(set(asked), reverse=True)
    # largest first: neutone-sdk renders its example samples at the first (a 64-sample loop is 30x the calls)
    return [b for b in reversed(BUFFERS) if b % ratio == 0] or [2 * ratio, ratio]


def wrapper(export: Export, buffers: list[int]):
    kind, rows, nominal = plan(export)
    held = [
        f"inlet {k + 1} {i.name} at {i.nominal:g}"
        for k, i in enumerate(export.methods["forward"].inlets)
        if k > 0 and k not in [r[5] for r in rows]
    ]
    stem = export.path.stem
    about = {
        "name": stem[:30],
        "short": f"{stem}: a rave-to-chaos export in Neutone FX"[:150],
        "long": (
            "A RAVE model trained with acids-rave."
            if kind is RaveFX
            else "An untrained network with frozen random weights, written by hand after the essay."
        )[:500],
        "technical": (
            "Knobs: "
            + "; ".join(f"{r[0]} {r[2]:g} to {r[3]:g}, default {r[4]:g}" for r in rows)
            + (". Held: " + ", ".join(held) if held else "")
            + ". DAW audio: inlet 1, mono."
        )[:500],
        "tags": ["rave" if kind is RaveFX else "chaos", "rave-to-chaos"],
        "citation": CITATION[:300],
    }
    return kind(export.fresh().module, about, rows, nominal, buffers)


def speed(fx, buffer: int, seconds: float = 1.0) -> float:
    """How many times faster than real time the scripted model runs in the plugin's wrapper at `buffer`
    (DAW and model alike, 44.1 kHz, mono): a buffer's median time over `seconds` of audio, after warming up."""
    from neutone_sdk.sqw import SampleQueueWrapper
    from neutone_sdk.utils import model_to_torchscript

    with torch.no_grad():
        m = model_to_torchscript(SampleQueueWrapper(fx), freeze=False, optimize=False)
    m.set_daw_sample_rate_and_buffer_size(SR, buffer)
    x = torch.rand(1, buffer) * 2 - 1
    took = []
    with torch.inference_mode():
        for _ in range(10):
            m.forward(x)  # the first calls optimise the graph
        for _ in range(max(int(seconds * SR / buffer), 20)):
            t = time.perf_counter()
            m.forward(x)
            took.append(time.perf_counter() - t)
    return buffer / SR / float(np.median(took))
