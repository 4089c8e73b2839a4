"""Run a method block by block exactly as nn~ does (measured against a real nn~ in Pd).

Per buffer of N samples: inputs stacked to [batch, in_ch, N], decimated by in_ratio keeping the last
sample of each group, the method called once, its output repeat_interleave'd by out_ratio to
[batch, out_ch, N]. The host hears it `latency` samples later: 2N - 64 in nn~'s threaded mode at Pd's
64-sample block, N without the thread. A block whose output has the wrong length plays silence.
"""
import numpy as np
import torch

from audition.model_file import Export
from safeio import UserError, warn

SR = 44100  # the hosts' usual rate: every render, probe and benchmark of this project runs at it
HOST_BLOCK = 64  # Pd's block size; Max and SuperCollider commonly use 64 too
DEFAULT_BUFFER = 2048  # the buffer nn.ar's examples use (nn~'s own default is 4096)
BENCH_BUFFERS = (64, 256, 2048)  # small, typical and large host buffers in every real-time table


def use_host_threads() -> None:
    """A host runs a model on its own audio thread: torch gets OMP_NUM_THREADS threads (default 1);
    extra OpenMP threads only fight over the cores."""
    import os

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))


def latency(buffer: int, threaded: bool = True, block: int = HOST_BLOCK) -> int:
    return 2 * buffer - block if threaded else buffer


def check_buffer(export: Export, method: str, buffer: int) -> None:
    m = export.method(method)
    ratio = max(m.in_ratio, m.out_ratio)
    if buffer < ratio or buffer & (buffer - 1):
        raise UserError(f"buffer {buffer} is not allowed for {export.path.name}:{method}: nn~ needs a power of two "
                        f">= {ratio} (the method's largest ratio)")


class Host:
    def __init__(self, export: Export, method: str, buffer: int = DEFAULT_BUFFER, threaded: bool = True):
        check_buffer(export, method, buffer)
        self.export, self.spec, self.buffer, self.threaded = export, export.method(method), buffer, threaded
        self.fn = getattr(export.module, method)
        self.silenced_blocks = 0

    @property
    def latency(self) -> int:
        return latency(self.buffer, self.threaded)

    def process_buffer(self, frame: torch.Tensor) -> torch.Tensor:
        """One nn~ buffer: [batch, in_ch, N] -> [batch, out_ch, N]."""
        m, n = self.spec, self.buffer
        x = frame[..., m.in_ratio - 1::m.in_ratio] if m.in_ratio > 1 else frame
        y = self.fn(x)
        if y.dim() != 3 or y.shape[1] != m.out_channels or y.shape[2] * m.out_ratio != n:
            self.silenced_blocks += 1  # real nn~ prints a message and plays silence
            return torch.zeros(frame.shape[0], m.out_channels, n)
        return y.repeat_interleave(m.out_ratio, dim=-1) if m.out_ratio > 1 else y

    def run(self, inputs: np.ndarray, progress: bool = False) -> np.ndarray:
        """inputs [batch, in_ch, T] (or [in_ch, T]) -> model output [batch, out_ch, T'] with T' = T rounded
        up to whole buffers (the tail is padded with silence), without host latency."""
        x = np.asarray(inputs, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.shape[1] != self.spec.in_channels:
            raise UserError(f"{self.export.path.name}:{self.spec.name} has {self.spec.in_channels} inlet(s) "
                            f"({'; '.join(self.spec.input_labels)}), but {x.shape[1]} source(s) were given")
        n = self.buffer
        frames = -(-x.shape[-1] // n)
        padded = np.zeros((x.shape[0], x.shape[1], frames * n), np.float32)
        padded[..., : x.shape[-1]] = x
        xt = torch.from_numpy(padded)
        out = torch.empty(x.shape[0], self.spec.out_channels, frames * n)
        steps = range(frames)
        if progress and frames > 50:
            from tqdm import tqdm
            steps = tqdm(steps, desc=f"{self.export.path.name}:{self.spec.name}", unit="buf", leave=False, disable=None)
        with torch.inference_mode():
            for k in steps:
                out[..., k * n:(k + 1) * n] = self.process_buffer(xt[..., k * n:(k + 1) * n])
        if self.silenced_blocks:
            warn(f"{self.export.path.name}:{self.spec.name}: {self.silenced_blocks} block(s) returned the wrong "
                 "shape and were silenced, as nn~ does")
        return out.numpy()

    def play(self, inputs: np.ndarray, progress: bool = False) -> np.ndarray:
        """What the host outputs: run() delayed by the host latency, same length as the input."""
        x = np.asarray(inputs, dtype=np.float32)
        t = x.shape[-1]
        y = self.run(x, progress)
        delayed = np.zeros_like(y[..., :t])
        if self.latency < t:
            delayed[..., self.latency:] = y[..., : t - self.latency]
        return delayed
