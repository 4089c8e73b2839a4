"""Render one timeline of inputs through a method (as nn~ would, latency removed) and measure it."""

import numpy as np
import torch

from audition import sources
from audition.host import Host
from audition.model_file import Method, as_export
from compare import metrics, probes
from spec.host import DEFAULT_BUFFER, REFERENCE_BUFFER, VALIDATION_BUFFERS

BUFFER = DEFAULT_BUFFER
SILENT_DB = -60.0  # an output with AC level above this from silent input is self-oscillating
SWEEP_POINTS = 16
HF_SPLIT_HZ = 8000  # "high-frequency artifacts": the share of energy above this, output vs input
MODE_PERSISTENCE = 0.6  # a resonant mode is a spectral peak found in at least this share of the outputs


class Timeline:
    """Segments for inlet 0 (audio) with per-segment control values, separated by silent gaps."""

    def __init__(self, method: Method, sr: int):
        self.method, self.sr, self.parts, self.index = method, sr, [], {}
        self.pos = 0

    def add(self, name: str, audio: np.ndarray, controls: dict[int, float] | None = None) -> None:
        n = len(audio)
        inlets = self.method.in_channels
        seg = np.zeros((inlets, n), np.float32)
        seg[0] = audio
        for i in range(1, inlets):
            seg[i] = (controls or {}).get(i, self.method.nominal(i))
        gap = np.zeros((inlets, int(probes.GAP_S * self.sr)), np.float32)
        gap[1:] = seg[1:, :1]
        self.parts += [seg, gap]
        self.index[name] = (self.pos, n)
        self.pos += n + gap.shape[1]

    def build(self) -> np.ndarray:
        return np.concatenate(self.parts, axis=1)

    def cut(self, y: np.ndarray, name: str) -> np.ndarray:
        start, n = self.index[name]
        return y[start : start + n]


def edge_artifact_db(source, method: str, sr: int) -> float | None:
    """Energy of what changes when the host buffer shrinks from the reference (8192) to the smallest that works,
    relative to the output (dB; very negative = block-size invariant). Same input, same seed."""
    export = as_export(source)
    m = export.method(method)
    x = np.zeros((m.in_channels, sr), np.float32)
    x[0] = sources.make("saw:110:0.5", 1.0, sr)
    for i in range(1, m.in_channels):
        x[i] = m.nominal(i)
    for n in VALIDATION_BUFFERS[:-1]:
        torch.manual_seed(0)
        host = Host(export.fresh(), method, n, quiet=True)
        y = host.run(x)[0, 0, :sr]
        if host.replayed_blocks == 0:
            break
    else:
        return None
    torch.manual_seed(0)
    ref = Host(export.fresh(), method, REFERENCE_BUFFER, quiet=True).run(x)[0, 0, :sr]
    return metrics.db(metrics.rms(y - ref) / max(metrics.rms(ref), metrics.EPS))


def schedule(m, inputs: dict[str, np.ndarray], sr: int) -> tuple[Timeline, list[float]]:
    """Every probe in one timeline, rendered in one pass: the inputs, stepped tones at each level, a click
    and its silence, and silence and a sine at each point of the control sweep. -> (timeline, sweep values)."""
    tl = Timeline(m, sr)
    for name, x in inputs.items():
        tl.add(name, x)
    for level in probes.LEVELS_DB:
        for f in probes.tone_frequencies(sr):
            tl.add(f"tone {level} {f}", probes.tone(f, level, sr))
    silence = np.zeros(sr // 2, np.float32)
    click = silence.copy()
    click[sr // 10] = 1.0
    tl.add("ir silence", silence)
    tl.add("ir click", click)
    sweep_values = []
    if m.in_channels > 1:
        lo, hi = m.range(1) or (0.0, 1.0)
        sweep_values = [float(v) for v in np.linspace(lo, hi, SWEEP_POINTS)]
    sine = (0.25 * np.sin(2 * np.pi * 220 * np.arange(sr // 2) / sr)).astype(np.float32)
    for v in sweep_values or [None]:
        ctl = {1: v} if v is not None else None
        tl.add(f"osc silent {v}", silence, ctl)
        tl.add(f"osc sine {v}", sine, ctl)
    return tl, sweep_values


def frequency_response(tl: Timeline, x: np.ndarray, y: np.ndarray, sr: int) -> dict:
    """Gain and THD of every stepped tone, per level."""
    response = {}
    for level in probes.LEVELS_DB:
        rows = []
        for f in probes.tone_frequencies(sr):
            name = f"tone {level} {f}"
            g, thd = metrics.tone_response(tl.cut(x[0], name), tl.cut(y, name), f, sr, probes.TONE_WINDOW)
            rows.append({"freq_hz": f, "gain_db": g, "thd": thd})
        response[str(level)] = rows
    return response


def self_oscillation(m, tl: Timeline, y: np.ndarray, sweep_values: list[float], sr: int) -> dict:
    """The AC level of the output over the control sweep, from silence and from a sine, and the first control
    value at which silence comes out above SILENT_DB."""
    tail = slice(-int(0.4 * sr), None)  # skip the onset
    silent_db = [metrics.db(np.std(tl.cut(y, f"osc silent {v}")[tail])) for v in (sweep_values or [None])]
    sine_db = [metrics.db(np.std(tl.cut(y, f"osc sine {v}")[tail])) for v in (sweep_values or [None])]
    threshold = next((v for v, d in zip(sweep_values, silent_db) if d > SILENT_DB), None)
    return {
        "inlet": m.input_labels[1] if sweep_values else None,
        "values": sweep_values,
        "silent_input_db": silent_db,
        "sine_input_db": sine_db,
        "threshold": threshold,
    }


def hf_gain_db(inputs: dict[str, np.ndarray], outs: dict[str, np.ndarray], sr: int) -> float:
    """Mean over inputs of the output's energy share above HF_SPLIT_HZ over the input's, in dB."""

    def hf_share(sig):
        fr, p = metrics.power_spectrum(sig, sr)
        return p[fr > HF_SPLIT_HZ].sum() / max(p.sum(), metrics.EPS)

    return float(
        np.mean([metrics.db(np.sqrt(hf_share(outs[k]) / max(hf_share(v), metrics.EPS))) for k, v in inputs.items()])
    )


def analyse(source, method: str, inputs: dict[str, np.ndarray], sr: int = probes.SR) -> tuple[dict, dict]:
    """source: a path or an open Export. -> (metrics for metrics.json, arrays for the figures)."""
    export = as_export(source)
    m = export.method(method)
    tl, sweep_values = schedule(m, inputs, sr)
    x = tl.build()
    torch.manual_seed(0)  # RAVE models draw noise: same seed, comparable renders
    y = Host(export.fresh(), method, BUFFER).run(x)[0, 0, : x.shape[1]]

    outs = {name: tl.cut(y, name) for name in inputs}
    per_input = {name: metrics.describe(o, sr) for name, o in outs.items()}
    ir = tl.cut(y, "ir click") - tl.cut(y, "ir silence")
    ir = ir[sr // 10 - probes.IR_PREROLL :]
    result = {
        "per_input": per_input,
        "mean_rms_db": float(np.mean([d["rms_db"] for d in per_input.values()])),
        "homogenisation_index": metrics.homogenisation_index(list(inputs.values()), list(outs.values()), sr),
        "frequency_response": frequency_response(tl, x, y, sr),
        "self_oscillation": self_oscillation(m, tl, y, sweep_values, sr),
        "resonant_modes_hz": metrics.persistent_peaks(
            [metrics.power_spectrum(o, sr) for o in outs.values() if metrics.rms(o) > 1e-4], share=MODE_PERSISTENCE
        ),
        "hf_gain_db": hf_gain_db(inputs, outs, sr),
        "impulse_peak_ms": float(np.argmax(np.abs(ir)) - probes.IR_PREROLL) * 1000 / sr,
        "buffer_edge_artifact_db": edge_artifact_db(export, method, sr),
    }
    picks = [sweep_values[i] for i in (0, len(sweep_values) // 2, -1)] if sweep_values else [None]
    osc_clips = {v: {"silent": tl.cut(y, f"osc silent {v}"), "220 Hz sine": tl.cut(y, f"osc sine {v}")} for v in picks}
    arrays = {"outputs": outs, "ir": ir, "sr": sr, "osc": osc_clips}
    return result, arrays
