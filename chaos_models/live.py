"""Play the weights: the essay's instruments with `seed`, `w_mult` and `glide` as host attributes
(LiveChaosEffect, LiveModelSynth).

One export holds every instrument of the essay's family: setting `seed` (Pd: [set seed 5(; nn.ar:
attributes: [seed: ...]) rebuilds every weight and bias inside the model exactly as the essay's class
builds them after torch.manual_seed(seed): a scripted torch.Generator draws the same numbers, in the
same order (conv_in, conv, conv_out, conv_chaos; weight then bias), with nn.Conv1d's own init. So
the output equals ChaosEffect(seed=S, w_mult=W), bit for bit.

A change is never applied inside a block: the setter only records it, and the next block starts from
it. With glide > 0 (seconds, at the host rate SR) old and new are crossfaded per sample over the
glide (LiveChaosEffect: layer by layer, as the morph export mixes weight sets; LiveModelSynth: the
two outputs), so no click reaches the speakers; when the glide ends the new set takes over alone.
w_mult is clamped to W_MULT_RANGE, the range measured usable at the essay's 14 operators (make ranges).
"""

import math
from typing import Optional

import torch
from torch import Tensor

from chaos_models.beyond import MorphChaosEffect, mix
from chaos_models.models import ChaosEffect, Instrument, ModelSynth
from spec.host import SR
from spec.instruments import ESSAY, W_MULT_RANGE


def fill(weight: Tensor, bias: Optional[Tensor], w_mult: float, g: torch.Generator) -> None:
    """What nn.Conv1d.reset_parameters draws (kaiming_uniform_ with a = sqrt(5), then the bias), then
    the essay's weight scaling."""
    fan_in = weight.shape[1] * weight.shape[2]
    gain = math.sqrt(2.0 / (1 + math.sqrt(5.0) ** 2))
    bound = math.sqrt(3.0) * (gain / math.sqrt(fan_in))
    weight.uniform_(-bound, bound, generator=g)
    assert bias is not None
    b = 1 / math.sqrt(fan_in)
    bias.uniform_(-b, b, generator=g)
    weight.mul_(w_mult)


class Live(Instrument):
    """seed, w_mult and glide as nn~ / nn.ar attributes; subclasses hold two weight sets (a plays, b is
    the new one during a glide) and say how to build them and how to mix them."""

    def live_init(self, seed: int, w_mult: float, glide: float) -> None:
        self.sample_rate = SR
        self.w_mult_low, self.w_mult_high = W_MULT_RANGE
        self.live_seed, self.live_w_mult, self.live_glide = int(seed), self.clamp(float(w_mult)), max(float(glide), 0.0)
        self.pending, self.gliding, self.glided = False, False, 0
        self.build(False)
        self.register_methods()
        self.register_attribute("seed", int(seed))
        self.register_attribute("w_mult", float(w_mult))
        self.register_attribute("glide", float(glide))

    def hyper_parameters(self) -> dict:
        return {
            "operators": self.operators,
            "seed": self.live_seed,
            "w_mult": self.live_w_mult,
            "glide": self.live_glide,
            "w_mult_range": list(W_MULT_RANGE),
            "glide_sample_rate": SR,
        }

    def clamp(self, w_mult: float) -> float:
        return min(max(w_mult, self.w_mult_low), self.w_mult_high)

    # ---- attributes (nn_tilde calls get_/set_; a setter returns 0 when it accepted the value) ----
    @torch.jit.export
    def get_seed(self) -> int:
        return self.live_seed

    @torch.jit.export
    def set_seed(self, seed: int) -> int:
        self.live_seed, self.pending = seed, True
        return 0

    @torch.jit.export
    def get_w_mult(self) -> float:
        return self.live_w_mult

    @torch.jit.export
    def set_w_mult(self, w_mult: float) -> int:
        self.live_w_mult, self.pending = self.clamp(w_mult), True
        return 0

    @torch.jit.export
    def get_glide(self) -> float:
        return self.live_glide

    @torch.jit.export
    def set_glide(self, glide: float) -> int:
        self.live_glide = max(glide, 0.0)
        return 0

    def build(self, new: bool) -> None:
        """Draw the weight set that plays (new=False) or the one a glide moves to (new=True)."""
        raise NotImplementedError

    def settle(self) -> None:
        """At a block start: apply a recorded change (at once, or by starting a glide)."""
        if not self.pending:
            return
        self.pending = False
        if self.live_glide <= 0.0:
            self.build(False)
            self.gliding = False
            return
        self.build(True)
        self.gliding, self.glided = True, 0

    def ramp(self, buffer: Tensor) -> Tensor:
        """[B, 1, T]: the share of the new weights at each sample of this block."""
        t = buffer.shape[-1]
        steps = max(int(self.live_glide * self.sample_rate), 1)
        m = (torch.arange(t, dtype=buffer.dtype) + float(self.glided + 1)) / float(steps)
        self.glided += t
        return m.clamp(0.0, 1.0).expand(buffer.shape[0], 1, t)

    def finish_glide(self) -> None:
        if self.glided >= max(int(self.live_glide * self.sample_rate), 1):  # the new set alone from the next block on
            self.build(False)
            self.gliding = False


class LiveChaosEffect(Live):
    """ChaosEffect's three methods with seed, w_mult and glide attributes."""

    METHODS = ChaosEffect.METHODS

    def __init__(self, seed: int = 0, w_mult: float = ESSAY["chaos_effect"]["w_mult"], glide: float = 0.0):
        super().__init__()
        self.operators, self.kernel = ESSAY["chaos_effect"]["operators"], 1
        # a: what plays; b: the new set during a glide (mixed per sample as the morph export does)
        self.pair = MorphChaosEffect(self.operators, 1.0, seed_a=0, seed_b=0)
        self.live_init(seed, w_mult, glide)

    def build(self, new: bool) -> None:
        net = self.pair.b if new else self.pair.a
        g = torch.Generator()
        g.manual_seed(self.live_seed)
        fill(net.conv_in.weight, net.conv_in.bias, self.live_w_mult, g)
        fill(net.conv.weight, net.conv.bias, self.live_w_mult, g)
        fill(net.conv_out.weight, net.conv_out.bias, self.live_w_mult, g)
        fill(net.conv_chaos.weight, net.conv_chaos.bias, self.live_w_mult, g)
        net.w_mult = self.live_w_mult
        if new:
            self.pair.w_mult = self.live_w_mult  # the morph mix divides by the new set's w_mult

    def renormalised(self, y: Tensor, m: Tensor) -> Tensor:
        """The morph mix divides by the new w_mult; glide the divisor too, so a w_mult change is smooth."""
        w_a, w_b = self.pair.a.w_mult, self.pair.b.w_mult
        return y * w_b / ((1.0 - m) * w_a + m * w_b)

    @torch.jit.export
    def forward(self, buffer: Tensor) -> Tensor:
        self.settle()
        if not self.gliding:
            return self.pair.a.forward(buffer)
        m = self.ramp(buffer)
        y = self.renormalised(self.pair.forward(torch.cat([buffer[:, :3], m], 1)), m)
        self.finish_glide()
        return y

    @torch.jit.export
    def topo(self, buffer: Tensor) -> Tensor:
        self.settle()
        if not self.gliding:
            return self.pair.a.topo(buffer)
        m = self.ramp(buffer)
        y = self.renormalised(self.pair.topo(torch.cat([buffer[:, :2], m], 1)), m)
        self.finish_glide()
        return y

    @torch.jit.export
    def chaos(self, buffer: Tensor) -> Tensor:
        self.settle()
        if not self.gliding:
            return self.pair.a.chaos(buffer)
        y = self.pair.chaos(torch.cat([buffer[:, :2], self.ramp(buffer)], 1))
        self.finish_glide()
        return y


class LiveModelSynth(Live):
    """The essay's first instrument, ModelSynth (forward: x, mod1, mod2), with seed, w_mult and glide."""

    METHODS = ModelSynth.METHODS

    def __init__(self, seed: int = 0, w_mult: float = ESSAY["model_synth"]["w_mult"], glide: float = 0.0):
        super().__init__()
        self.operators, self.kernel = ESSAY["model_synth"]["operators"], 1
        self.a = ModelSynth(self.operators, 1.0, seed=0)
        self.b = ModelSynth(self.operators, 1.0, seed=0)
        self.live_init(seed, w_mult, glide)

    def build(self, new: bool) -> None:
        net = self.b if new else self.a
        g = torch.Generator()
        g.manual_seed(self.live_seed)
        fill(net.conv_in.weight, net.conv_in.bias, self.live_w_mult, g)
        fill(net.conv.weight, net.conv.bias, self.live_w_mult, g)
        fill(net.conv_out.weight, net.conv_out.bias, self.live_w_mult, g)

    @torch.jit.export
    def forward(self, buffer: Tensor) -> Tensor:
        self.settle()
        if not self.gliding:
            return self.a.forward(buffer)
        # the two instruments' outputs crossfade: mixing the layers instead (as LiveChaosEffect does)
        # overshoots through ModelSynth's sine fold (largest jump 0.069 against 0.060 for either alone)
        m = self.ramp(buffer)
        y = mix(self.a.forward(buffer), self.b.forward(buffer), m)
        self.finish_glide()
        return y
