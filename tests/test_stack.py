"""The installed acids-rave stack is sound: RAVE builds from its own gin configs and runs on CPU."""

import gin
import pytest
import torch

from helpers.cli import REPO


@pytest.mark.parametrize("config,ratio", [("v2_small", 512), ("v2", 2048)])
def test_rave_config_builds_and_runs(config, ratio):
    import rave

    gin.clear_config()
    # Tiny capacity keeps this fast; the architecture (ratios, blocks, PQMF) is the config's own.
    gin.parse_config_files_and_bindings([f"{config}.gin"], ["CAPACITY = 4", "LATENT_SIZE = 8"])
    model = rave.RAVE(n_channels=1).eval()
    x = torch.randn(1, 1, 4 * ratio)
    with torch.no_grad():
        z = model.encode(x)
        y = model(x)
    gin.clear_config()
    assert z.shape[-1] == 4, "latent frames = samples / compression ratio"
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_pins_are_the_locked_ones():
    import importlib.metadata as md

    locked = dict(
        line.split("==")
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for pkg in ["torch", "torchaudio", "acids-rave", "nn-tilde", "pytorch-lightning", "scipy", "setuptools"]:
        assert md.version(pkg).split("+")[0] == locked[pkg], pkg


def test_ffmpeg_and_sox_present():
    from safeio import require_tool

    assert require_tool("ffmpeg") and require_tool("sox")


def test_missing_tool_is_one_sentence(monkeypatch):
    from safeio import UserError, require_tool

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="ffmpeg not found: run make setup"):
        require_tool("ffmpeg")
