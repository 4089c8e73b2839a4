"""Run a method block by block exactly as nn~ and nn.ar do (measured against both real hosts,
docs/facts.md "How nn~ and nn.ar run a model").

Per buffer of N samples: inputs stacked to [batch, in_ch, N], decimated by in_ratio keeping the last
sample of each group, the method called once, its output repeat_interleave'd by out_ratio to
[batch, out_ch, N]. The host's rules, whatever the profile:
- the requested buffer is rounded up to a power of two and raised to the largest ratio over all of the
  model's methods, with the host's message, and then it plays;
- a block whose output has the wrong length replays the previous block, with the host's message.
Where the hosts differ, each profile follows its own: nn~ plays `forward` for an unknown method (with
its message; an error with strict=True) and rounds up silently; nn.ar's language refuses an unknown
method and nn.ar says when it rounds. Latency differs too (and nn.ar in real time starts late, while
the model loads).
"""

import numpy as np
import torch

from audition.model_file import Export
from safeio import UserError, warn
from safeio.environment import env
from spec.host import DEFAULT_BUFFER, NN_TILDE_BUFFER, PROFILES, power_of_two_from


def use_host_threads() -> None:
    """A host runs a model on its own audio thread: torch gets OMP_NUM_THREADS threads (default 1);
    extra OpenMP threads only fight over the cores."""
    torch.set_num_threads(int(env("OMP_NUM_THREADS") or 1))


def effective_buffer(export: Export, requested: int) -> int:
    """The buffer a host really runs: the next power of two, at least the largest ratio of any method."""
    if requested < 1:
        raise UserError(f"buffer {requested}: a host buffer is a whole number of 1 or more samples")
    return max(power_of_two_from(requested), largest_ratio(export))


def largest_ratio(export: Export) -> int:
    return max(max(m.in_ratio, m.out_ratio) for m in export.methods.values())


class Host:
    def __init__(
        self,
        export: Export,
        method: str,
        buffer: int = DEFAULT_BUFFER,
        host: str = "nn~",
        load_delay: int = 0,
        strict: bool = False,
        quiet: bool = False,
    ):
        if host not in PROFILES:
            raise UserError(f"host {host!r} is not one of {', '.join(PROFILES)}")
        self.profile, self.load_delay, self.quiet = PROFILES[host], load_delay, quiet
        nn_ar = self.profile.says == "NNUGen"
        if method not in export.methods and nn_ar:  # NN(\key, \method) throws in sclang
            raise UserError(
                f"NNModel: method '{method}' not found in {export.path.name}: nn.ar refuses it; "
                f"use one of {', '.join(export.methods)}"
            )
        if method not in export.methods and not strict and "forward" in export.methods:
            self.say(f"method {method} not found in model, using forward instead")
            method = "forward"
        self.export, self.spec = export, export.method(method)
        self.buffer = effective_buffer(export, buffer)
        if nn_ar and buffer < largest_ratio(export):  # the same buffers, each host's words
            self.say(f"buffer size to small, switching to {self.buffer}.")
        elif nn_ar and buffer != self.buffer:
            self.say(f"rounding buffer size {self.buffer}.")
        elif self.buffer > power_of_two_from(buffer):  # nn~ rounds up to a power of two silently
            self.say(f"buffer size too small, switching to {self.buffer}")
        self.disabled = nn_ar and self.buffer < self.profile.block  # nn.ar plays silence then
        # nn~ keeps its 4096-sample buffer for a 1-in/1-out model unless [bufsize N( came first: it still
        # computes N-sample blocks, but their output comes NN_TILDE_BUFFER - N samples later (measured)
        self.unsized_delay = 0
        if self.profile.unsized and self.spec.in_channels == self.spec.out_channels == 1:
            if self.buffer > NN_TILDE_BUFFER:
                raise UserError(
                    f"nn~ without [bufsize {self.buffer}( keeps {NN_TILDE_BUFFER}-sample buffers for a "
                    f"1-in/1-out model and corrupts memory above that: send [bufsize {self.buffer}( "
                    "before DSP starts (host nn~)"
                )
            self.unsized_delay = NN_TILDE_BUFFER - self.buffer
        if self.disabled:
            self.say(f"blockSize({self.profile.block}) larger than model bufferSize({self.buffer}), disabling")
        self.fn = getattr(export.module, self.spec.name)
        self.replayed_blocks, self.wrong_size, self.last = 0, 0, None

    def say(self, message: str) -> None:
        if not self.quiet:
            warn(f"{self.profile.says}: {message}")

    @property
    def latency(self) -> int:
        return max(self.profile.latency(self.buffer), 0) + self.unsized_delay  # below nn.ar's block: nothing at all

    def process_buffer(self, frame: torch.Tensor) -> torch.Tensor:
        """One host buffer: [batch, in_ch, N] -> [batch, out_ch, N]."""
        m, n = self.spec, self.buffer
        x = frame[..., m.in_ratio - 1 :: m.in_ratio] if m.in_ratio > 1 else frame
        y = self.fn(x)
        if y.dim() != 3 or y.shape[1] != m.out_channels or y.shape[2] * m.out_ratio != n:
            self.replayed_blocks += 1  # the host replays what it played last (silence at the start)
            self.wrong_size = y.shape[-1] * m.out_ratio if y.dim() else 0
            if self.last is None or self.last.shape[0] != frame.shape[0]:
                self.last = torch.zeros(frame.shape[0], m.out_channels, n)
            return self.last
        self.last = y.repeat_interleave(m.out_ratio, dim=-1) if m.out_ratio > 1 else y
        return self.last

    def set_attribute(self, name: str, value: str | float) -> None:
        """What Pd's [set NAME VALUE( and nn.ar's attributes: do: the model's set_NAME, with the type its
        get_NAME returns."""
        module = self.export.module
        if not hasattr(module, f"set_{name}"):
            raise UserError(
                f"{self.export.path.name} has no attribute {name!r}; its attributes: "
                f"{', '.join(self.export.attributes()) or 'none'}"
            )
        kind = type(getattr(module, f"get_{name}")())
        try:
            typed = bool(float(value)) if kind is bool else kind(float(value)) if kind is int else kind(value)
        except ValueError:
            raise UserError(f"attribute {name} takes a {kind.__name__}, not {value!r}")
        getattr(module, f"set_{name}")(typed)

    def change_lands(self, at: int) -> int:
        """The buffer (counted from the first the model computes) that an attribute change at sample
        `at` reaches first."""
        return max((at - self.load_delay) // self.buffer - self.profile.set_lead, 0)

    def run(self, inputs: np.ndarray, progress: bool = False, changes=()) -> np.ndarray:
        """inputs [batch, in_ch, T] (or [in_ch, T]) -> model output [batch, out_ch, T'] with T' = T rounded
        up to whole buffers (the tail is padded with silence), without host latency. With a load delay L
        (nn.ar in real time), the first buffer starts at sample L and the output before it is silence.
        changes: (sample, attribute, value) set while playing. Measured in Pd's nn~ (pd -nrt): a change
        reaches the model before it computes the buffer *before* the one holding that sample, since the
        threaded host computes a buffer while the next one fills; unthreaded, the buffer holding it.
        (In real time the thread may already be running: a buffer later at most.) nn.ar reads an
        attribute once per host block and hands the new value over with the next full buffer: the buffer
        holding that sample (measured in scsynth -N); in real time its thread may read the attributes after
        a change later in the same JACK period: a buffer earlier at most (measured)."""
        x = np.asarray(inputs, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.shape[1] != self.spec.in_channels:
            raise UserError(
                f"{self.export.path.name}:{self.spec.name} has {self.spec.in_channels} inlet(s) "
                f"({'; '.join(self.spec.input_labels)}), but {x.shape[1]} source(s) were given"
            )
        x = x[..., self.load_delay :]
        n = self.buffer
        frames = -(-x.shape[-1] // n)
        padded = np.zeros((x.shape[0], x.shape[1], frames * n), np.float32)
        padded[..., : x.shape[-1]] = x
        xt = torch.from_numpy(padded)
        out = torch.zeros(x.shape[0], self.spec.out_channels, frames * n)
        steps = range(0 if self.disabled else frames)  # a disabled nn.ar UGen plays silence
        if progress and frames > 50:
            from tqdm import tqdm

            steps = tqdm(steps, desc=f"{self.export.path.name}:{self.spec.name}", unit="buf", leave=False, disable=None)
        with torch.inference_mode():
            for k in steps:
                for at, name, value in changes:
                    if self.change_lands(at) == k:
                        self.set_attribute(name, value)
                out[..., k * n : (k + 1) * n] = self.process_buffer(xt[..., k * n : (k + 1) * n])
        if self.replayed_blocks:
            self.say(
                f"model output size is not consistent, expected {n} samples, got {self.wrong_size}! "
                f"({self.export.path.name}:{self.spec.name}: {self.replayed_blocks} block(s) replayed the "
                "previous one, as the host does)"
            )
        if self.load_delay:  # nn.ar fed the model nothing until it had loaded
            out = torch.cat([torch.zeros(x.shape[0], self.spec.out_channels, self.load_delay), out], -1)
        return out.numpy()

    def play(self, inputs: np.ndarray, progress: bool = False, changes=()) -> np.ndarray:
        """What the host outputs: run() delayed by the host latency, same length as the input."""
        x = np.asarray(inputs, dtype=np.float32)
        t = x.shape[-1]
        y = self.run(x, progress, changes)
        delayed = np.zeros_like(y[..., :t])
        if self.latency < t:
            delayed[..., self.latency :] = y[..., : t - self.latency]
        return delayed
