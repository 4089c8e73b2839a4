"""Beyond the essay: a block-size-invariant ChaosEffect, and one whose weights morph live.

StreamingChaosEffect — the essay's ChaosEffect uses plain Conv1d, so conv_chaos (kernel 5) sees zero
padding at every buffer edge and the sound depends on the host's buffer size. Here conv_chaos runs
causally over a cache of the last 4 samples of its input, and the signals it is added to are delayed
to match: the output equals the essay's chaos run over the whole signal in one piece, delayed by
STREAM_DELAY = 4 samples, whatever the buffer size. forward and topo (kernel 1) need no state.

MorphChaosEffect — two seeded weight sets A and B and an audio-rate `morph` inlet (0..1). Every
layer's output is (1 - m) * layer_A + m * layer_B at each sample, which for these linear layers is
the layer with interpolated weights: m = 0 is instrument A, m = 1 instrument B, bit for bit. While m
holds one value over a block, the layer with interpolated weights is what runs.
"""
from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor

from chaos_models.models import ChaosEffect, Instrument, guard_input, guard_output
from safeio import UserError
from spec.instruments import CONTROL, ESSAY, MOD1, MOD2, MORPH, X

STREAM_DELAY = 4  # samples: two kernel-5 convs, each looking 2 samples ahead


class StreamingChaosEffect(ChaosEffect):
    """ChaosEffect whose chaos method carries conv state across buffers (kernel must be 1)."""

    def __init__(self, operators: int = ESSAY["chaos_effect"]["operators"], w_mult: float = ESSAY["chaos_effect"]["w_mult"],
                 kernel: int = 1, seed: int | None = None):
        if kernel != 1:
            raise UserError(f"streaming_chaos_effect streams conv_chaos only: conv_in/conv/conv_out need --kernel 1, not {kernel}")
        super().__init__(operators, w_mult, kernel, seed)

    def register_methods(self) -> None:
        self.reset()
        super().register_methods()  # nn_tilde test-runs each method, which fills the caches...
        self.reset()                # ...so start from silence again

    def reset(self) -> None:
        self.delay = STREAM_DELAY
        for name, channels in (("cache_y0", self.operators), ("cache_y1", self.operators), ("cache_ctl", 1)):
            self.register_buffer(name, torch.zeros(1, channels, STREAM_DELAY))

    def hyper_parameters(self) -> dict:
        return {**super().hyper_parameters(), "streaming": True, "delay_samples": STREAM_DELAY}

    def causal_chaos_conv(self, ext: Tensor) -> Tensor:
        return F.conv1d(ext, self.conv_chaos.weight, self.conv_chaos.bias)  # no padding: the cache is the past

    @torch.jit.export
    def chaos(self, buffer: Tensor) -> Tensor:
        buffer = guard_input(buffer)
        b, t = buffer.shape[0], buffer.shape[2]
        if self.cache_y0.shape[0] != b:  # a new batch size (mc.nn~) starts from silence
            self.cache_y0 = torch.zeros(b, self.cache_y0.shape[1], self.delay)
            self.cache_y1 = torch.zeros(b, self.cache_y1.shape[1], self.delay)
            self.cache_ctl = torch.zeros(b, 1, self.delay)
        x = buffer[:, 0:1]
        ctl = torch.cat([self.cache_ctl, buffer[:, 1:2]], 2)  # times t0-4 .. t0+T-1
        ext0 = torch.cat([self.cache_y0, self.conv_in(x)], 2)
        shift1 = self.causal_chaos_conv(ext0)  # centred on times t0-2 .. t0+T-3
        # the control's scaling on its one channel, not on all operators': x * c * 0.5 == x * (c * 0.5)
        # exactly (a power of two), and it saves two multiplies of the whole block
        y1 = torch.sin(ext0[:, :, 2:t + 2] * torch.pi + shift1 * (ctl[:, :, 2:t + 2] * 0.5))
        ext1 = torch.cat([self.cache_y1, y1], 2)
        shift2 = self.causal_chaos_conv(ext1)  # centred on times t0-4 .. t0+T-5
        y = torch.sin(ext1[:, :, 2:t + 2] * torch.pi + torch.tanh(shift2) * (ctl[:, :, 0:t] * 2.0))
        y = self.conv_out(y)
        y = y / (self.operators * 0.6)
        # views, not copies: nothing writes into ext0, ext1 or ctl again (each call makes new ones)
        self.cache_y0 = ext0[:, :, -self.delay:]
        self.cache_y1 = ext1[:, :, -self.delay:]
        self.cache_ctl = ctl[:, :, -self.delay:]
        return guard_output(y)


def mix(a: Tensor, b: Tensor, m: Tensor) -> Tensor:
    """(1 - m) a + m b, exact at both ends (m = 0 gives a, m = 1 gives b, bit for bit)."""
    return a * (1.0 - m) + b * m


LAYERS = ("conv_in", "conv", "conv_out", "conv_chaos")   # index i of MorphChaosEffect.layer


class MorphChaosEffect(Instrument):
    """Two seeded ChaosEffects sharing one set of circuits; `morph` moves between their weights.

    While the morph control holds one value over a block (a host's control does between moves), the
    weights are mixed for that value once and kept until it changes, and each layer runs once, as fast
    as one ChaosEffect: the same sum in another order, so outputs differ from per-sample mixing by float
    rounding only, and m = 0 and m = 1 stay bit-exact to the seeded instruments. While it moves, every
    layer runs for both weight sets and the outputs are mixed sample by sample."""

    METHODS = {"forward": (X, MOD1, MOD2, MORPH), "topo": (X, MOD1, MORPH), "chaos": (X, CONTROL, MORPH)}
    mixed: List[Tensor]

    def __init__(self, operators: int = ESSAY["chaos_effect"]["operators"], w_mult: float = ESSAY["chaos_effect"]["w_mult"],
                 seed_a: int = 0, seed_b: int = 1):
        super().__init__()
        self.seed, self.seed_b, self.kernel = seed_a, seed_b, 1
        self.operators, self.w_mult = operators, w_mult
        self.a = ChaosEffect(operators, w_mult, seed=seed_a)
        self.b = ChaosEffect(operators, w_mult, seed=seed_b)
        # per layer: weight A, bias A, weight B, bias B (the same tensors as a's and b's)
        self.pairs: List[Tensor] = [t for name in LAYERS for net in (self.a, self.b)
                                    for t in (getattr(net, name).weight, getattr(net, name).bias)]
        self.mixed_at = -1.0                 # the morph value `mixed` holds (-1: none yet)
        self.mixed = []                      # per layer: weight, bias at mixed_at
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
        pad = p[4 * i].shape[-1] // 2   # every layer keeps the length ("same"), as in ChaosEffect
        if still:
            return F.conv1d(x, self.mixed[2 * i], self.mixed[2 * i + 1], padding=pad)
        return mix(F.conv1d(x, p[4 * i], p[4 * i + 1], padding=pad), F.conv1d(x, p[4 * i + 2], p[4 * i + 3], padding=pad), m)

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
