"""The essay's instruments, ready for nn~ / nn.ar: same layers, same construction order, same math.

Differences from the essay's text (chaos_models/essay.py), none audible at batch 1 on finite input:
- `seed=S` builds the weights the essay's class gets right after `torch.manual_seed(S)`;
- every method takes [B, C, T] and returns [B, 1, T] (the essay returned [B, T]; ModelSynth indexed
  `buffer[:, 0]`, which only worked at batch 1);
- inputs are guarded (NaN -> 0, +-inf -> +-INPUT_LIMIT) and non-finite outputs are zeroed, so a bad
  sample from the host never poisons a block;
- kernel > 1 pads "same" so that T samples in give T samples out, as nn~ requires (the essay's
  unpadded kernel-k convs shrank the block; its instruments use kernel=1, where nothing changes);
- nn~ metadata: `<method>_params` buffers, get_methods(), inlet labels with their useful ranges, and
  the ranges as data (`<method>_ranges`, `_inlet_names`, `_inlet_units`: spec/inlets.py).
"""

import contextlib

import nn_tilde
import torch
from torch import Tensor

from spec.inlets import ranges_row
from spec.instruments import CHAOS_EFFECT_METHODS, ESSAY, MODEL_SYNTH_METHODS

# What +-inf from the host becomes: far beyond any audio (+-1) or control (the essay's mouse ranges top
# out at 118) value, small enough that no intermediate overflows float32 at the documented w_mult range.
INPUT_LIMIT = 1.0e4


def guard_input(buffer: Tensor, limit: float = INPUT_LIMIT) -> Tensor:
    """NaN -> 0 and +-inf -> +-limit, in one pass (a host's NaN must not spread through conv_chaos)."""
    return torch.nan_to_num(buffer, nan=0.0, posinf=limit, neginf=-limit)


def guard_input_(ours: Tensor, limit: float = INPUT_LIMIT) -> Tensor:
    """guard_input in place, for a tensor the model made itself (never the host's buffer)."""
    return torch.nan_to_num_(ours, nan=0.0, posinf=limit, neginf=-limit)


def guard_output(y: Tensor) -> Tensor:
    """Whatever overflowed inside (huge finite input, extreme w_mult) leaves as silence. In place: y is ours."""
    return torch.nan_to_num_(y, nan=0.0, posinf=0.0, neginf=0.0)


@contextlib.contextmanager
def seeded(seed: int | None):
    """Construct under torch.manual_seed(seed) without disturbing the caller's global RNG."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def conv(c_in: int, c_out: int, kernel: int) -> torch.nn.Conv1d:
    # padding=0 at kernel 1 keeps the module identical to the essay's.
    return torch.nn.Conv1d(c_in, c_out, kernel_size=kernel, padding=0 if kernel == 1 else "same")


class Instrument(nn_tilde.Module):
    """Base: registers each method in METHODS (method -> its Inlets) with nn~ (params buffers,
    labels, get_methods) and stores each inlet's typed range beside it."""

    METHODS: dict = {}

    def register_methods(self) -> None:
        for method, inlets in self.METHODS.items():
            self.register_method(
                method,
                in_channels=len(inlets),
                in_ratio=1,
                out_channels=1,
                out_ratio=1,
                input_labels=[i.label for i in inlets],
                output_labels=[f"(signal) {method} output"],
                test_method=True,
            )
            self.register_buffer(f"{method}_ranges", torch.tensor([ranges_row(i) for i in inlets], dtype=torch.float64))
            setattr(self, f"{method}_inlet_names", [i.name for i in inlets])
            setattr(self, f"{method}_inlet_units", [i.unit for i in inlets])

    def hyper_parameters(self) -> dict:
        return {"operators": self.operators, "w_mult": self.w_mult, "kernel": self.kernel, "seed": self.seed}

    def fold_gate(self, buffer: Tensor) -> Tensor:
        """The essay's ModelSynth circuit (also ChaosEffect.forward before its scaling): conv_in, conv,
        a sine fold by mod1, a tanh gate by mod2, conv_out."""
        x = buffer[:, 0:1]
        mod1 = buffer[:, 1:2]
        mod2 = buffer[:, 2:3]
        y = self.conv_in(x)
        y = self.conv(y)
        y = torch.sin(y * torch.pi * mod1)
        y = 1 - torch.tanh(torch.abs(y) * mod2)
        return self.conv_out(y)


class ModelSynth(Instrument):
    """The essay's first instrument: three Conv1d layers, a sine fold and a tanh gate."""

    METHODS = MODEL_SYNTH_METHODS

    def __init__(
        self,
        operators: int = ESSAY["model_synth"]["operators"],
        w_mult: float = ESSAY["model_synth"]["w_mult"],
        kernel: int = 1,
        seed: int | None = None,
    ):
        super().__init__()
        self.seed, self.kernel = seed, kernel
        self.operators, self.w_mult = operators, w_mult
        with seeded(seed):
            self.conv_in = conv(1, operators, kernel)
            self.conv = conv(operators, operators, kernel)
            self.conv_out = conv(operators, 1, kernel)
        for l in [self.conv_in, self.conv, self.conv_out]:
            l.weight = torch.nn.Parameter(l.weight * w_mult)
        self.requires_grad_(False)  # frozen: never trained
        self.register_methods()

    @torch.jit.export
    def forward(self, buffer: Tensor) -> Tensor:
        return guard_output(self.fold_gate(guard_input(buffer)))


class ChaosEffect(Instrument):
    """The essay's ChaosEffect: one weight set, three circuits (forward, topo, chaos).

    Defaults are the essay's instrument, ChaosEffect(operators=14, w_mult=2).
    """

    METHODS = CHAOS_EFFECT_METHODS

    def __init__(
        self,
        operators: int = ESSAY["chaos_effect"]["operators"],
        w_mult: float = ESSAY["chaos_effect"]["w_mult"],
        kernel: int = 1,
        seed: int | None = None,
    ):
        super().__init__()
        self.seed, self.kernel = seed, kernel
        self.operators = operators
        self.w_mult = w_mult
        with seeded(seed):
            self.conv_in = conv(1, operators, kernel)
            self.conv = conv(operators, operators, kernel)
            self.conv_out = conv(operators, 1, kernel)
            self.conv_chaos = torch.nn.Conv1d(operators, operators, kernel_size=5, padding=2)
        for layer in [self.conv_in, self.conv, self.conv_out, self.conv_chaos]:
            with torch.no_grad():
                layer.weight *= w_mult
        self.requires_grad_(False)  # frozen: never trained
        self.register_methods()

    @torch.jit.export
    def forward(self, buffer: Tensor) -> Tensor:
        y = self.fold_gate(guard_input(buffer))
        y = y / (self.operators * self.w_mult)
        return guard_output(y)

    @torch.jit.export
    def topo(self, buffer: Tensor) -> Tensor:
        buffer = guard_input(buffer)
        x = buffer[:, 0:1]
        mod1 = buffer[:, 1:2]
        y = self.conv_in(x)
        y = self.conv(y)
        y = torch.sin(y * torch.pi * mod1)
        y = self.conv_out(y)
        y = y / (self.operators * self.w_mult)
        return guard_output(y)

    @torch.jit.export
    def chaos(self, buffer: Tensor) -> Tensor:
        buffer = guard_input(buffer)
        x = buffer[:, 0:1]
        control = buffer[:, 1:2]
        y = self.conv_in(x)
        shift1 = self.conv_chaos(y)
        y = torch.sin(y * torch.pi + shift1 * control * 0.5)
        shift2 = self.conv_chaos(y)
        y = torch.sin(y * torch.pi + torch.tanh(shift2) * control * 2.0)
        y = self.conv_out(y)
        y = y / (self.operators * 0.6)
        return guard_output(y)
