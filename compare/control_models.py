"""The control models of compare/controls.py: small instruments whose answer to each measurement is known by
construction. Each plays the same circuit on every method (forward, topo, chaos: x and a control inlet with
chaos's range), except where a claim is about the difference between methods (topo hotter)."""

import math

import nn_tilde
import torch
from torch import Tensor

from spec.host import SR
from spec.inlets import ranges_row
from spec.instruments import CONTROL, X

METHODS = ("forward", "topo", "chaos")


class Control(nn_tilde.Module):
    """Three methods of two inlets each (audio, control), all playing `play`; the sample count carries the
    phase of anything the control adds, across blocks."""

    def __init__(self):
        super().__init__()
        for method in METHODS:
            self.register_method(
                method,
                in_channels=2,
                in_ratio=1,
                out_channels=1,
                out_ratio=1,
                input_labels=[X.label, CONTROL.label],
                output_labels=[f"(signal) {method} output"],
                test_method=False,
            )
            self.register_buffer(
                f"{method}_ranges", torch.tensor([ranges_row(X), ranges_row(CONTROL)], dtype=torch.float64)
            )
        self.register_buffer("n", torch.zeros(1, dtype=torch.float64))
        self.sr = float(SR)

    def clock(self, x: Tensor) -> Tensor:
        """Seconds of each sample of this block since the start (float64, so the phase never drifts)."""
        t = (self.n + torch.arange(x.shape[-1], dtype=torch.float64)) / self.sr
        self.n = self.n + x.shape[-1]
        return t

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        return x

    @torch.jit.export
    def forward(self, buffer: Tensor) -> Tensor:
        return self.play(buffer[:, :1], buffer[:, 1:2])

    @torch.jit.export
    def topo(self, buffer: Tensor) -> Tensor:
        return self.play(buffer[:, :1], buffer[:, 1:2])

    @torch.jit.export
    def chaos(self, buffer: Tensor) -> Tensor:
        return self.play(buffer[:, :1], buffer[:, 1:2])


class Gain(Control):
    """0.5 x: linear, flat, never oscillating, no buffer edges, no high frequencies added."""

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        return 0.5 * x


class Saturator(Control):
    """tanh(4x) / 4: near-linear when quiet (THD ~ (4A)^2 / 12), strongly non-linear at full scale."""

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        return torch.tanh(4.0 * x) / 4.0


class HardClip(Control):
    """x clipped at 0.001 (-60 dBFS): already a square wave at -40 dBFS."""

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        return x.clamp(-1e-3, 1e-3)


class Resonance(Control):
    """0.5 x plus a 2 kHz tone whatever the input: a frequency emphasised in every output."""

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        t = self.clock(x)
        return 0.5 * x + (0.05 * torch.sin(2 * math.pi * 2000.0 * t)).to(x.dtype)


class Oscillator(Control):
    """0.5 x, plus a 440 Hz tone at -26 dBFS once the control passes THRESHOLD (from silence too)."""

    THRESHOLD = 20.0

    def __init__(self):
        super().__init__()
        self.threshold = self.THRESHOLD

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        t = self.clock(x)
        on = (c > self.threshold).to(x.dtype)
        return 0.5 * x + on * (0.05 * torch.sin(2 * math.pi * 440.0 * t)).to(x.dtype)


class HotTopo(Control):
    """topo at twice forward's level (+6 dB)."""

    @torch.jit.export
    def topo(self, buffer: Tensor) -> Tensor:
        return buffer[:, :1]

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        return 0.5 * x


class ColdTopo(Control):
    """topo at half forward's level (-6 dB)."""

    @torch.jit.export
    def topo(self, buffer: Tensor) -> Tensor:
        return 0.25 * buffer[:, :1]

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        return 0.5 * x


class EdgeClick(Control):
    """0.5 x and a click of 0.1 at the first sample of every block: what the host's buffer size changes."""

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        y = 0.5 * x
        y[..., 0] = y[..., 0] + 0.1
        return y


class Delay(Control):
    """x delayed by SAMPLES (its past carried across blocks): an impulse comes out SAMPLES later."""

    SAMPLES = 100

    def __init__(self):
        super().__init__()
        self.samples = self.SAMPLES
        self.register_buffer("past", torch.zeros(1, 1, self.SAMPLES))

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        joined = torch.cat([self.past.expand(x.shape[0], 1, self.samples), x], dim=-1)
        self.past = joined[:1, :, -self.samples :].clone()
        return joined[..., : x.shape[-1]]


class OneTexture(Control):
    """Every input becomes the same seeded noise: everything comes out as one texture."""

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        return 0.1 * torch.randn(x.shape, dtype=x.dtype)


class Brighten(Control):
    """x plus its first difference: energy moved toward high frequencies."""

    def __init__(self):
        super().__init__()
        self.register_buffer("last", torch.zeros(1, 1, 1))

    def play(self, x: Tensor, c: Tensor) -> Tensor:
        previous = torch.cat([self.last.expand(x.shape[0], 1, 1), x[..., :-1]], dim=-1)
        self.last = x[:1, :, -1:].clone()
        return 0.5 * x + 2.0 * (x - previous)


class FixedDecoder(nn_tilde.Module):
    """encode: the mean of each frame of RATIO samples (1 latent dimension); decode: the same 220 Hz tone
    whatever the latent, so every decoded clip is the same and the decoded diversity is 0."""

    RATIO = 512

    def __init__(self):
        super().__init__()
        self.ratio = self.RATIO
        self.sr = float(SR)
        common = {"in_ratio": 1, "out_ratio": 1, "test_method": False}
        self.register_method(
            "encode",
            in_channels=1,
            out_channels=1,
            input_labels=["(signal) x"],
            output_labels=["(signal) z"],
            **{**common, "out_ratio": self.RATIO},
        )
        self.register_method(
            "decode",
            in_channels=1,
            out_channels=1,
            input_labels=["(signal) z"],
            output_labels=["(signal) y"],
            **{**common, "in_ratio": self.RATIO},
        )
        self.register_method(
            "forward",
            in_channels=1,
            out_channels=1,
            input_labels=["(signal) x"],
            output_labels=["(signal) y"],
            **common,
        )
        self.register_buffer("n", torch.zeros(1, dtype=torch.float64))

    @torch.jit.export
    def encode(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], 1, -1, self.ratio).mean(-1)

    @torch.jit.export
    def decode(self, z: Tensor) -> Tensor:
        frames = z.shape[-1] * self.ratio
        t = (self.n + torch.arange(frames, dtype=torch.float64)) / self.sr
        self.n = self.n + frames
        return (0.1 * torch.sin(2 * math.pi * 220.0 * t)).to(z.dtype).expand(z.shape[0], 1, frames).clone()

    @torch.jit.export
    def forward(self, x: Tensor) -> Tensor:
        return 0.5 * x


class PassThroughDecoder(FixedDecoder):
    """decode: the latent itself, each frame held for RATIO samples, so every latent code decodes to a
    different signal (its level and its steps): random codes spread as far as the codes do."""

    @torch.jit.export
    def decode(self, z: Tensor) -> Tensor:
        return z.repeat_interleave(self.ratio, dim=-1)
