"""Beyond the essay: a block-size-invariant ChaosEffect, and one whose weights morph live.

StreamingChaosEffect — the essay's ChaosEffect uses plain Conv1d, so conv_chaos (kernel 5) sees zero
padding at every buffer edge and the sound depends on the host's buffer size. Here each block is
computed over the last 2 * STREAM_DELAY input samples before it as well, conv_chaos runs without
padding (causally), and the signals it is added to are delayed to match: the output equals the essay's
chaos run over the whole signal in one piece (zero padding before the first block included), delayed by
STREAM_DELAY = 4 samples, whatever the buffer size, up to float rounding in the convs. forward and topo
(kernel 1) need no state.

MorphChaosEffect — two seeded weight sets A and B and an audio-rate `morph` inlet (0..1). Every
layer's output is (1 - m) * layer_A + m * layer_B at each sample, which for these linear layers is
the layer with interpolated weights: m = 0 is instrument A, m = 1 instrument B, bit for bit. While m
holds one value over a block, the layer with interpolated weights is what runs.
"""

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from chaos_models.models import ChaosEffect, Instrument, guard_input, guard_input_, guard_output
from safeio import UserError
from spec.instruments import CONTROL, ESSAY, MOD1, MOD2, MORPH, X

STREAM_DELAY = 4  # samples: two kernel-5 convs, each looking 2 samples ahead


class StreamingChaosEffect(ChaosEffect):
    """ChaosEffect whose chaos method carries conv state across buffers (kernel must be 1)."""

    def __init__(
        self,
        operators: int = ESSAY["chaos_effect"]["operators"],
        w_mult: float = ESSAY["chaos_effect"]["w_mult"],
        kernel: int = 1,
        seed: int | None = None,
    ):
        if kernel != 1:
            raise UserError(
                f"streaming_chaos_effect streams conv_chaos only: conv_in/conv/conv_out need --kernel 1, not {kernel}"
            )
        super().__init__(operators, w_mult, kernel, seed)

    def register_methods(self) -> None:
        self.reset()
        super().register_methods()  # nn_tilde test-runs each method, which fills `past`...
        self.reset()  # ...so start from silence again

    def reset(self) -> None:
        self.delay = STREAM_DELAY
        self.fresh = True  # no block yet: what lies before the first one is the essay's zero padding
        self.register_buffer("past", torch.zeros(1, 2, 2 * STREAM_DELAY))

    def hyper_parameters(self) -> dict:
        return {**super().hyper_parameters(), "streaming": True, "delay_samples": STREAM_DELAY}

    def pointwise(self, x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        """A kernel-1 Conv1d as one batched matmul: the same sums (up to float rounding), ~2 us a call less."""
        assert bias is not None
        return torch.baddbmm(bias.unsqueeze(1), weight.squeeze(2).expand(x.shape[0], -1, -1), x)

    @torch.jit.export
    def chaos(self, buffer: Tensor) -> Tensor:
        b, t, d = buffer.shape[0], buffer.shape[2], self.delay
        if self.past.shape[0] != b:  # a new batch size (mc.nn~) starts from silence
            self.past = torch.zeros(b, 2, 2 * d)
            self.fresh = True
        # the last 2d input samples before this block, then the block: times t0-2d .. t0+T-1. Only the raw
        # input is kept; conv_in and the first sine are recomputed over those 2d samples, which costs less
        # than keeping (and concatenating) each layer's own past.
        ext = guard_input_(torch.cat([self.past, buffer.narrow(1, 0, 2)], 2))
        ctl = ext.narrow(1, 1, 1)
        y0 = self.pointwise(ext.narrow(1, 0, 1), self.conv_in.weight, self.conv_in.bias)
        if self.fresh:  # zero padding before the first block; the control's past is 0 too, so y1 is 0 there
            y0.narrow(2, 0, 2 * d).zero_()
            self.fresh = False
        shift1 = F.conv1d(y0, self.conv_chaos.weight, self.conv_chaos.bias)  # centred on t0-d-2 .. t0+T-3
        # addcmul(a, s, c, value=k) is a + k * s * c in one pass; k = 0.5 and 2 are powers of two, so this
        # is the essay's s * c * k exactly, without two more passes over the block
        y1 = torch.sin(torch.addcmul(y0.narrow(2, 2, t + d) * torch.pi, shift1, ctl.narrow(2, 2, t + d), value=0.5))
        shift2 = F.conv1d(y1, self.conv_chaos.weight, self.conv_chaos.bias)  # centred on t0-d .. t0+T-d-1
        y = torch.sin(torch.addcmul(y1.narrow(2, 2, t) * torch.pi, torch.tanh(shift2), ctl.narrow(2, d, t), value=2.0))
        y = self.pointwise(y, self.conv_out.weight, self.conv_out.bias)
        y = y / (self.operators * 0.6)
        self.past = ext.narrow(2, t, 2 * d)  # a view: each call makes a new ext, nothing writes into this one
        return guard_output(y)


def mix(a: Tensor, b: Tensor, m: Tensor) -> Tensor:
    """(1 - m) a + m b, exact at both ends (m = 0 gives a, m = 1 gives b, bit for bit)."""
    return a * (1.0 - m) + b * m


LAYERS = ("conv_in", "conv", "conv_out", "conv_chaos")  # index i of MorphChaosEffect.layer


class MorphChaosEffect(Instrument):
    """Two seeded ChaosEffects sharing one set of circuits; `morph` moves between their weights.

    While the morph control holds one value over a block (a host's control does between moves), the
    weights are mixed for that value once and kept until it changes, and each layer runs once, as fast
    as one ChaosEffect: the same sum in another order, so outputs differ from per-sample mixing by float
    rounding only, and m = 0 and m = 1 stay bit-exact to the seeded instruments. While it moves, every
    layer runs for both weight sets and the outputs are mixed sample by sample."""

    METHODS = {"forward": (X, MOD1, MOD2, MORPH), "topo": (X, MOD1, MORPH), "chaos": (X, CONTROL, MORPH)}
    mixed: List[Tensor]

    def __init__(
        self,
        operators: int = ESSAY["chaos_effect"]["operators"],
        w_mult: float = ESSAY["chaos_effect"]["w_mult"],
        seed_a: int = 0,
        seed_b: int = 1,
    ):
        super().__init__()
        self.seed, self.seed_b, self.kernel = seed_a, seed_b, 1
        self.operators, self.w_mult = operators, w_mult
        self.a = ChaosEffect(operators, w_mult, seed=seed_a)
        self.b = ChaosEffect(operators, w_mult, seed=seed_b)
        # per layer: weight A, bias A, weight B, bias B (the same tensors as a's and b's)
        self.pairs: List[Tensor] = [
            t
            for name in LAYERS
            for net in (self.a, self.b)
            for t in (getattr(net, name).weight, getattr(net, name).bias)
        ]
        self.mixed_at = -1.0  # the morph value `mixed` holds (-1: none yet)
        self.mixed = []  # per layer: weight, bias at mixed_at
        self.register_methods()

    def hyper_parameters(self) -> dict:
        return {"operators": self.operators, "w_mult": self.w_mult, "seed_a": self.seed, "seed_b": self.seed_b}

    def hold(self, m: Tensor) -> bool:
        """Whether m holds one value over the block; if so, the weights mixed for it are ready in `mixed`."""
        lo, hi = torch.aminmax(m)
        c = float(lo.item())
        if c != float(hi.item()):
            return False
        if c != self.mixed_at:
            p = self.pairs
            self.mixed = [mix(p[j + j // 2 * 2], p[j + j // 2 * 2 + 2], lo) for j in range(len(p) // 2)]
            self.mixed_at = c
        return True

    def layer(self, x: Tensor, i: int, m: Tensor, still: bool) -> Tensor:
        """Layer i of LAYERS, A and B mixed by m (F.conv1d: what Conv1d itself calls)."""
        p = self.pairs
        pad = p[4 * i].shape[-1] // 2  # every layer keeps the length ("same"), as in ChaosEffect
        if still:
            return F.conv1d(x, self.mixed[2 * i], self.mixed[2 * i + 1], padding=pad)
        return mix(
            F.conv1d(x, p[4 * i], p[4 * i + 1], padding=pad), F.conv1d(x, p[4 * i + 2], p[4 * i + 3], padding=pad), m
        )

    @torch.jit.export
    def forward(self, buffer: Tensor) -> Tensor:
        buffer = guard_input(buffer)
        x, mod1, mod2, m = buffer[:, 0:1], buffer[:, 1:2], buffer[:, 2:3], buffer[:, 3:4].clamp(0.0, 1.0)
        still = self.hold(m)
        y = self.layer(self.layer(x, 0, m, still), 1, m, still)
        y = torch.sin(y * torch.pi * mod1)
        y = 1 - torch.tanh(torch.abs(y) * mod2)
        y = self.layer(y, 2, m, still)
        return guard_output(y / (self.operators * self.w_mult))

    @torch.jit.export
    def topo(self, buffer: Tensor) -> Tensor:
        buffer = guard_input(buffer)
        x, mod1, m = buffer[:, 0:1], buffer[:, 1:2], buffer[:, 2:3].clamp(0.0, 1.0)
        still = self.hold(m)
        y = self.layer(self.layer(x, 0, m, still), 1, m, still)
        y = torch.sin(y * torch.pi * mod1)
        y = self.layer(y, 2, m, still)
        return guard_output(y / (self.operators * self.w_mult))

    @torch.jit.export
    def chaos(self, buffer: Tensor) -> Tensor:
        buffer = guard_input(buffer)
        x, control, m = buffer[:, 0:1], buffer[:, 1:2], buffer[:, 2:3].clamp(0.0, 1.0)
        still = self.hold(m)
        y = self.layer(x, 0, m, still)
        shift1 = self.layer(y, 3, m, still)
        y = torch.sin(y * torch.pi + shift1 * control * 0.5)
        shift2 = self.layer(y, 3, m, still)
        y = torch.sin(y * torch.pi + torch.tanh(shift2) * control * 2.0)
        y = self.layer(y, 2, m, still)
        return guard_output(y / (self.operators * 0.6))
