"""audition against the real nn~ in a real Pure Data (built from source, run headless): every
hand-written export, every method, at two buffer sizes and a rounded one, sample for sample.

Slow (nn~ builds in about a minute the first time, then each render takes a second or two).
Skips, saying why, when NN_TILDE_SRC is not set (.ci/run sets it) or the build tools are missing.
"""
import numpy as np
import pytest

from audition.host import Host
from audition.model_file import open_export
from chaos_models.export import build, export, export_essay
from compare import analyse
from helpers.real_hosts import nn_tilde, pd_render

pytestmark = pytest.mark.slow
NN_DIR, WHY = nn_tilde()
SR = 44100


def host_inputs(export_, method: str, seconds: float = 0.5) -> np.ndarray:
    """Noise on the audio inlet, every control at its nominal value (the label's range)."""
    m = export_.method(method)
    n = int(seconds * SR)
    x = [np.random.default_rng(0).uniform(-0.5, 0.5, n)]
    x += [np.full(n, analyse.nominal(label)) for label in m.input_labels[1:]]
    return np.stack(x).astype(np.float32)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    paths = export_essay(out) + [export(build("streaming_chaos_effect", seed=0), out / "streaming.ts"),
                                 export(build("morph_chaos_effect", seed_a=0, seed_b=1), out / "morph.ts")]
    return paths


@pytest.mark.skipif(NN_DIR is None, reason=WHY)
@pytest.mark.parametrize("buffer", [512, 2048, 1000])
def test_every_method_renders_bit_identically_in_the_real_nn_tilde(exports, buffer, tmp_path):
    rendered = 0
    for path in exports:
        e = open_export(path)
        for method in e.methods:
            x = host_inputs(e, method)
            y, log = pd_render(NN_DIR, path, method, buffer, x, tmp_path / f"{path.stem}-{method}")
            host = Host(open_export(path), method, buffer, "nn~", quiet=True)
            ref = host.play(x)[0, 0]
            assert host.latency == 2 * host.buffer - 64
            assert np.array_equal(y, ref), f"{path.name}:{method} at {buffer}: max {np.abs(y - ref).max():.3g}\n{log[-500:]}"
            assert np.abs(y[host.latency:]).max() > 0, f"{path.name}:{method} is silent after the latency"
            rendered += 1
    assert rendered == 13


@pytest.mark.skipif(NN_DIR is None, reason=WHY)
def test_an_unknown_method_plays_forward_in_both(exports, tmp_path, capsys):
    path = exports[0]
    x = host_inputs(open_export(path), "chaos")     # two inlets connected; forward's third hears silence
    y, log = pd_render(NN_DIR, path, "choas", 512, x, tmp_path)
    assert "nn~: method choas not found in model, using forward instead" in log
    host = Host(open_export(path), "choas", 512)
    assert "nn~: method choas not found in model, using forward instead" in capsys.readouterr().err
    assert np.array_equal(y, host.play(np.concatenate([x, np.zeros_like(x[:1])]))[0, 0])


@pytest.mark.skipif(NN_DIR is None, reason=WHY)
@pytest.mark.parametrize("buffer", [64, 2048])
def test_set_seed_mid_render_in_the_real_nn_tilde(buffer, tmp_path):
    """[set seed 7( to the live export while it plays: audition's --set lands on the same sample."""
    path = export(build("live_chaos_effect", seed=0), tmp_path / "live.ts")
    x = host_inputs(open_export(path), "chaos", seconds=1.0)
    y, log = pd_render(NN_DIR, path, "chaos", buffer, x, tmp_path / "pd", messages=[(300, "set seed 7")])
    at = int(0.3 * SR)
    ours = Host(open_export(path), "chaos", buffer, quiet=True).play(x, changes=[(at, "seed", "7")])[0, 0]
    # measured in pd -nrt: the buffer computed while the message arrives; a buffer later if the
    # host's thread was already running (a race real time can have)
    later = Host(open_export(path), "chaos", buffer, quiet=True).play(x, changes=[(at + buffer, "seed", "7")])[0, 0]
    assert np.array_equal(y, ours) or np.array_equal(y, later), f"max {np.abs(y - ours).max():.3g}\n{log[-500:]}"
    seven = export(build("chaos_effect", seed=7), tmp_path / "seven.ts")
    tail = Host(open_export(seven), "chaos", buffer, quiet=True).play(x)[0, 0][-SR // 2:]
    assert np.array_equal(y[-SR // 2:], tail), "after the change: the seed-7 instrument, bit for bit"
