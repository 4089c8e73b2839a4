"""`torchaudio.sox_effects.apply_effects_tensor` for torchaudio >= 2.9, which removed it.

RAVE's `compress` augmentation calls it. This stand-in pipes float32 audio through the sox CLI
(`sox -t f32 -r SR -c C - -t f32 - <effect>...`), which gave bit-identical output to torchaudio 2.5.1.
"""

import shutil
import subprocess
import types

import numpy as np
import torch


def apply_effects_tensor(tensor: torch.Tensor, sample_rate: int, effects, channels_first: bool = True):
    sox = shutil.which("sox")
    if sox is None:
        raise RuntimeError("sox not found: run make setup (the compress augmentation needs it)")
    x = tensor if channels_first else tensor.T
    x = x.reshape(1, -1) if x.dim() == 1 else x
    n_ch = x.shape[0]
    cmd = [sox, "-q", "-t", "f32", "-r", str(sample_rate), "-c", str(n_ch), "-", "-t", "f32", "-"] + [
        str(a) for effect in effects for a in effect
    ]
    raw = x.T.contiguous().numpy().astype("<f4").tobytes()  # sox wants interleaved frames
    out = subprocess.run(cmd, input=raw, capture_output=True, check=True).stdout
    y = torch.from_numpy(np.frombuffer(out, dtype="<f4").copy()).reshape(-1, n_ch).T
    return (y if channels_first else y.T), sample_rate


def install() -> None:
    """Give torchaudio a `sox_effects` module again if it has none."""
    import torchaudio

    try:
        from torchaudio import sox_effects  # noqa: F401

        if hasattr(sox_effects, "apply_effects_tensor"):
            return
    except (ImportError, OSError, RuntimeError):
        pass
    import sys

    module = types.ModuleType("torchaudio.sox_effects")
    module.apply_effects_tensor = apply_effects_tensor
    torchaudio.sox_effects = module
    sys.modules["torchaudio.sox_effects"] = module
