"""Hybrid: the essay's ChaosEffect, fine-tuned toward a recording (the essay's open question).

Start from the seeded random weights, then train conv_in, conv and conv_out through the `topo`
circuit so that noise fed in comes out with the target's spectrum: a multi-resolution loss on
time-averaged log power spectra (FFT 256, 1024, 4096), since input and target are not paired in time.
About 12 s for FINETUNE_STEPS = 300 steps on one CPU core. The result is still a ChaosEffect (same
class, same three methods, same nn~ metadata),
so it loads wherever the untrained one does; conv_chaos keeps its random weights.
"""

import time

import numpy as np
import torch

from chaos_models.models import ChaosEffect
from safeio import UserError, decode_audio
from spec.host import SR
from spec.instruments import ESSAY

FFT_SIZES = (256, 1024, 4096)
FINETUNE_STEPS = 300
TOPO_MOD1 = 4.0  # the mod1 the circuit is fine-tuned at (recorded in the manifest; low in the essay's 1-18)


def average_log_spectra(y: torch.Tensor) -> list[torch.Tensor]:
    """[B, T] -> per FFT size, the log power spectrum averaged over time and batch."""
    out = []
    for n in FFT_SIZES:
        spec = torch.stft(y, n, hop_length=n // 4, window=torch.hann_window(n), return_complex=True)
        out.append(torch.log(spec.abs().pow(2).mean(dim=(0, 2)) + 1e-8))
    return out


def spectral_loss(y: torch.Tensor, target_spectra: list[torch.Tensor]) -> torch.Tensor:
    return sum((a - b).abs().mean() for a, b in zip(average_log_spectra(y), target_spectra)) / len(FFT_SIZES)


def load_targets(paths) -> torch.Tensor:
    audio = [decode_audio(p, SR, 1)[0] for p in paths]
    audio = [np.nan_to_num(a) for a in audio if len(a) >= SR]
    if not audio:
        raise UserError(
            "no target recording of at least 1 s: give --target files (e.g. datasets/noise/raw/*.wav, "
            "made by make demo-data)"
        )
    return torch.from_numpy(np.concatenate(audio))


def finetune(
    paths,
    operators: int = ESSAY["chaos_effect"]["operators"],
    w_mult: float = ESSAY["chaos_effect"]["w_mult"],
    seed: int = 0,
    steps: int = FINETUNE_STEPS,
    lr: float = 3e-3,
    batch: int = 4,
    seconds: float = 0.5,
    log_every: int = 0,
) -> tuple[ChaosEffect, dict]:
    torch.set_num_threads(1)
    target = load_targets(paths)
    model = ChaosEffect(operators, w_mult, seed=seed)
    params = [p for layer in (model.conv_in, model.conv, model.conv_out) for p in layer.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * SR)
    with torch.no_grad():
        target_spectra = average_log_spectra(target[: len(target) // n * n].reshape(-1, n))

    def excitation():
        x = torch.empty(batch, 2, n)
        x[:, 0] = torch.rand(batch, n, generator=g) * 2 - 1
        x[:, 1] = TOPO_MOD1
        return x

    probe = excitation()
    with torch.no_grad():
        before = float(spectral_loss(model.topo(probe)[:, 0], target_spectra))
    t0 = time.time()
    for step in range(1, steps + 1):
        loss = spectral_loss(model.topo(excitation())[:, 0], target_spectra)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and step % log_every == 0:
            print(f"  step {step:4d}  spectral loss {loss.item():.3f}")
    model.requires_grad_(False)
    with torch.no_grad():
        after = float(spectral_loss(model.topo(probe)[:, 0], target_spectra))
    report = {
        "targets": [str(p) for p in paths],
        "steps": steps,
        "method": "topo",
        "mod1": TOPO_MOD1,
        "loss": "mean |log power| difference of time-averaged spectra, FFT 256/1024/4096",
        "loss_before": before,
        "loss_after": after,
        "seconds": round(time.time() - t0, 1),
    }
    return model, report
