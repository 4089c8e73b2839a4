"""Any export as a Neutone FX model (.nm), the plugin that brings TorchScript audio models into a DAW.

The DAW's audio (mixed to mono) is the method's first inlet; its output's first channel goes back.
Up to Neutone's four knobs, in this order, each mapped linearly from the knob's 0-1 to a typed range:
  - the method's other inlets, in inlet order, over their typed ranges (default: their nominal value);
  - a live export's `seed` (0-127, whole numbers) and `w_mult` (its clamp range), applied once per
    model buffer when they move;
  - a RAVE export (no typed inlets, encode/decode): an offset added to each of its first four latent
    dimensions, -3 to 3 (RAVE's prior is a unit Gaussian, so that spans where its latents live; the
    first dimensions carry the most variance). 0 by default: then it plays decode(encode(x)), its forward.
Inlets beyond the knobs are held at their nominal value. The mapping is in the model's metadata: each
knob's range and default in its own units, and which inlet, attribute or latent it drives.
"""

from typing import Dict, List

import torch
from neutone_sdk import ContinuousNeutoneParameter, WaveformToWaveformBase
from torch import Tensor

from spec.host import SR

KNOBS = 4  # neutone_sdk.constants.MAX_N_PARAMS
SEEDS = 128  # the seed knob's span: seeds 0 ... SEEDS - 1
LATENT_SPAN = 3.0


class FX(WaveformToWaveformBase):
    """An export's `forward`, DAW audio on inlet 0, knobs on inlets (and held inlets at nominal)."""

    def __init__(self, module, about: dict, knobs: list, nominal: List[float], buffers: List[int]):
        # plain attributes first: the base class reads them in its __init__
        self.about = {k: v for k, v in about.items() if k != "tags"}  # Dict[str, str] for TorchScript
        self.tags: List[str] = about["tags"]
        self.knob_rows = knobs  # [name, description, low, high, default, inlet or -1]
        self.nominal = nominal  # every inlet's value when no knob drives it
        self.knob_inlet = [int(k[5]) for k in knobs]
        self.knob_low = [float(k[2]) for k in knobs]
        self.knob_span = [float(k[3]) - float(k[2]) for k in knobs]
        self.buffers = buffers
        self.rates = [SR]  # the hosts' rate: the plugin resamples any other
        super().__init__(module)

    def get_model_name(self) -> str:
        return self.about["name"]

    def get_model_authors(self) -> List[str]:
        return ["rave-to-chaos"]

    def get_model_short_description(self) -> str:
        return self.about["short"]

    def get_model_long_description(self) -> str:
        return self.about["long"]

    def get_technical_description(self) -> str:
        return self.about["technical"]

    def get_technical_links(self) -> Dict[str, str]:
        return {}  # neutone-sdk fetches each link while saving; the citation names the sources instead

    def get_tags(self) -> List[str]:
        return self.tags

    def get_model_version(self) -> str:
        return "1.0.0"

    def is_experimental(self) -> bool:
        return True

    def get_citation(self) -> str:
        return self.about["citation"]

    def get_neutone_parameters(self):
        return [ContinuousNeutoneParameter(k[0], k[1], float(k[4]), float(k[2]), float(k[3])) for k in self.knob_rows]

    @torch.jit.export
    def is_input_mono(self) -> bool:
        return True

    @torch.jit.export
    def is_output_mono(self) -> bool:
        return True

    @torch.jit.export
    def get_native_sample_rates(self) -> List[int]:
        return self.rates

    @torch.jit.export
    def get_native_buffer_sizes(self) -> List[int]:
        return self.buffers

    def value(self, params: Dict[str, Tensor], i: int) -> Tensor:
        """Knob i in its own units (the knob's 0-1 clamped first)."""
        p = params[self.neutone_parameter_names[i]].clamp(0.0, 1.0)
        return self.knob_low[i] + p * self.knob_span[i]

    def inputs(self, x: Tensor, params: Dict[str, Tensor]) -> Tensor:
        n = x.size(1)
        held = torch.tensor(self.nominal, dtype=x.dtype).unsqueeze(1).repeat(1, n)
        held[0] = x[0]
        for i in range(len(self.knob_inlet)):
            if self.knob_inlet[i] > 0:
                held[self.knob_inlet[i]] = self.value(params, i).expand(n)
        return held.unsqueeze(0)

    def do_forward_pass(self, x: Tensor, params: Dict[str, Tensor]) -> Tensor:
        return self.model.forward(self.inputs(x, params))[0, :1]


class LiveFX(FX):
    """A live export: the last two knobs are its seed and w_mult attributes."""

    def __init__(self, module, about: dict, knobs: list, nominal: List[float], buffers: List[int]):
        self.seed_now = int(module.get_seed())
        self.w_mult_now = float(module.get_w_mult())
        super().__init__(module, about, knobs, nominal, buffers)

    def do_forward_pass(self, x: Tensor, params: Dict[str, Tensor]) -> Tensor:
        seed_knob, w_knob = len(self.knob_inlet) - 2, len(self.knob_inlet) - 1
        seed = int(torch.round(self.value(params, seed_knob)).item())
        w_mult = float(self.value(params, w_knob).item())
        if seed != self.seed_now:
            self.seed_now = seed
            self.model.set_seed(seed)
        if abs(w_mult - self.w_mult_now) > 1e-6 * self.knob_span[w_knob]:  # a knob at rest is no change
            self.w_mult_now = w_mult
            self.model.set_w_mult(w_mult)
        return self.model.forward(self.inputs(x, params))[0, :1]


class RaveFX(FX):
    """A RAVE export: decode(encode(x) + the knobs' offsets on its first latent dimensions)."""

    def do_forward_pass(self, x: Tensor, params: Dict[str, Tensor]) -> Tensor:
        z = self.model.encode(x.unsqueeze(0))
        for i in range(len(self.knob_inlet)):
            z[:, i] = z[:, i] + self.value(params, i)
        return self.model.decode(z, True)[0, :1]
