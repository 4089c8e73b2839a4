"""`audition validate` on exports built to break one contract each: each gives exactly the failure or warning
docs/audition.md promises, a sound export gives none, and the exit code says which."""

import nn_tilde
import pytest
import torch

from audition.validate import validate
from helpers.cli import run_cli


class Contract(nn_tilde.Module):
    """One method, forward: 1 inlet, 1 outlet, ratio 1 unless a test says otherwise."""

    def __init__(self, in_channels: int = 1, out_channels: int = 1, out_ratio: int = 1):
        super().__init__()
        self.register_method(
            "forward",
            in_channels=in_channels,
            in_ratio=1,
            out_channels=out_channels,
            out_ratio=out_ratio,
            input_labels=[f"(signal) in {i}" for i in range(in_channels)],
            output_labels=[f"(signal) out {i}" for i in range(out_channels)],
            test_method=False,
        )
        self.register_buffer("state", torch.zeros(1))


class Sound(Contract):
    @torch.jit.export
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.nan_to_num(x[:, :1], nan=0.0, posinf=1.0, neginf=-1.0).clamp(-1.0, 1.0)


class NotDeterministic(Contract):
    @torch.jit.export
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.Generator()
        g.seed()  # entropy from outside torch's seeded generator
        return 0.5 * x + 1e-3 * torch.rand(x.shape, generator=g)


class DependsOnTheBatch(Contract):
    @torch.jit.export
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x.mean(dim=0, keepdim=True)


class WrongRatio(Contract):
    def __init__(self):
        super().__init__(out_ratio=2)  # says half the samples out, returns as many as came in

    @torch.jit.export
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x


class NanOut(Contract):
    @torch.jit.export
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


class ParamsLie(Contract):
    def __init__(self):
        super().__init__(out_channels=2)  # says two outlets, returns one

    @torch.jit.export
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x


class PassesNan(Contract):
    @torch.jit.export
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x  # NaN in, NaN out: the host must guard it


class KeepsNan(Contract):
    @torch.jit.export
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.state = self.state + 0.0 * x.sum()  # a cache: finite input adds nothing, one NaN stays for ever
        return 0.5 * torch.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0) + self.state


def export(model: Contract, path) -> str:
    torch.jit.script(model).save(str(path))
    return str(path)


@pytest.mark.parametrize(
    "model,failure",
    [
        (NotDeterministic, "two runs with the same input and seed differ"),
        (DependsOnTheBatch, "batch item 0 differs from the same input at batch 1"),
        (WrongRatio, "output (1, 1, 64) torch.float32, nn~ needs (1, 1, 32) float32"),
        (NanOut, "non-finite output for silence input"),
        (ParamsLie, "output (1, 1, 64) torch.float32, nn~ needs (1, 2, 64) float32"),
    ],
)
def test_each_broken_contract_is_its_failure(tmp_path, model, failure):
    failures, _ = validate(export(model(), tmp_path / f"{model.__name__}.ts"))
    assert any(failure in f for f in failures), failures


@pytest.mark.parametrize(
    "model,warning",
    [
        (PassesNan, "nan input reaches the output (guard it in the patch)"),
        (KeepsNan, "one NaN sample poisons every later block"),
        (NotDeterministic, "output is random unless torch.manual_seed is set"),
    ],
)
def test_each_unguarded_input_is_its_warning(tmp_path, model, warning):
    failures, warnings = validate(export(model(), tmp_path / f"{model.__name__}.ts"))
    assert any(warning in w for w in warnings), warnings
    if model is not NotDeterministic:
        assert failures == []


def test_a_sound_export_passes_and_the_command_says_which_fail(tmp_path):
    good = export(Sound(), tmp_path / "sound.ts")
    assert validate(good) == ([], [])
    bad = export(DependsOnTheBatch(), tmp_path / "batch.ts")
    r = run_cli("-m", "audition", "validate", good, bad)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "batch item 0 differs" in r.stdout + r.stderr and "Traceback" not in r.stderr
    assert run_cli("-m", "audition", "validate", good).returncode == 0
