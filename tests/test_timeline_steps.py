"""What the timeline decides before it renders anything, fast: which checkpoints training keeps and what each
records (a real Lightning Trainer with RAVE's own warm-up callback, on a one-weight model), which of them
the timeline exports and under which name, when an export is reused, what the report's heading and inputs
are, and that a latent seed reaches a decoder that draws noise."""

import json

import numpy as np
import pytest
import torch

from rave_pipeline.commands import checkpoints, recipes
from rave_pipeline.commands.export import destination, every_kth, exported_before, timeline_exports
from rave_pipeline.inside_rave.timeline_saves import KEY, TimelineSaves
from safeio import sha256_of
from spec import names

pl = pytest.importorskip("pytorch_lightning")


class OneWeight(pl.LightningModule):
    """Logs `validation` = the global step it was measured at, so each checkpoint shows whose loss it carries."""

    def __init__(self, warmup: int):
        super().__init__()
        self.w, self.warmup, self.warmed_up = torch.nn.Parameter(torch.ones(1)), warmup, False

    def training_step(self, batch, _):
        return (self.w * batch[0]).pow(2).mean()

    def validation_step(self, batch, _):
        self.log("validation", float(self.global_step))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_training_keeps_every_k_th_step_with_the_validation_of_that_step_and_the_phase_of_its_weights(tmp_path):
    from rave.model import WarmupCallback  # RAVE's: sets warmed_up at the start of the batch after PHASE_1

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(64, 1)), batch_size=1)
    trainer = pl.Trainer(
        max_steps=6,
        val_check_interval=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[WarmupCallback(), TimelineSaves(every=2), pl.callbacks.ModelCheckpoint(dirpath=tmp_path)],
    )
    trainer.fit(OneWeight(warmup=2), data, data)
    kept = sorted(tmp_path.glob("timeline-step=*.ckpt"), key=lambda p: int(p.stem.split("=")[1]))
    assert [p.name for p in kept] == ["timeline-step=2.ckpt", "timeline-step=4.ckpt", "timeline-step=6.ckpt"]
    recorded = [torch.load(p, weights_only=False)[KEY] for p in kept]
    assert [(r["step"], r["phase"]) for r in recorded] == [(2, 1), (4, 2), (6, 2)]  # step 2 is PHASE_1's last
    assert [(r["validation"], r["validation_step"]) for r in recorded] == [(2.0, 2), (4.0, 4), (6.0, 6)]


def test_every_k_th_checkpoint_from_the_first_and_always_the_newest():
    steps = list(range(10, 80, 10))  # 7 checkpoints
    assert every_kth(steps, 1) == steps
    assert every_kth(steps, 3) == [10, 40, 70]
    assert every_kth(steps, 4) == [10, 50, 70]
    assert every_kth(steps, 10) == [10, 70]
    assert every_kth([10], 5) == [10]


def test_only_the_newest_checkpoint_takes_the_run_s_plain_export_name(tmp_path):
    recipe = recipes.load("noise", root=tmp_path)
    assert destination(recipe, 800, newest=True) == recipe.export_path
    other = destination(recipe, 800, newest=False)
    assert other.parent == recipe.export_path.parent and other.name.endswith(names.TRAINED_SUFFIX)
    assert "_step800" in other.name and other != recipe.export_path


def keep(recipe, step, **ours):
    """A checkpoint as TimelineSaves leaves it: Lightning's global_step and our record."""
    folder = recipe.runs_dir / "noise_abc/version_0/checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"global_step": step, KEY: {"step": step, **ours}}, folder / f"timeline-step={step}.ckpt")


def lay_out_run(tmp_path, steps):
    recipe = recipes.load("noise", root=tmp_path)
    recipe.runs_dir.mkdir(parents=True)
    (recipe.runs_dir / "settings.json").write_text(json.dumps({"phase_1_duration": 25}))
    for step in steps:
        keep(recipe, step, phase=1)
    return recipe


def fake_export(recipe, c):
    """An export beside a manifest naming checkpoint `c`'s bytes, as export.write_manifest leaves them."""
    final = (
        recipe.export_path.parent / "timeline" / recipe.run_name / names.trained(recipe.run_name, recipe.config, c.step)
    )
    final.parent.mkdir(parents=True, exist_ok=True)
    final.write_bytes(b"model")
    final.with_suffix(".json").write_text(json.dumps({"checkpoint_sha256": sha256_of(c.path)}))
    return final


def test_the_timeline_reuses_an_export_of_the_same_checkpoint_bytes_and_takes_every_k_th(tmp_path, monkeypatch):
    recipe = lay_out_run(tmp_path, [10, 20, 30, 40, 50])
    found = checkpoints.listing(recipe.runs_dir)
    done = {c.step: fake_export(recipe, c) for c in found}
    exported = []
    monkeypatch.setattr("rave_pipeline.commands.export.export", lambda r, ckpt, final: exported.append(final))
    records = timeline_exports(recipe, every=2)
    assert [r["step"] for r in records] == [10, 30, 50] and not exported
    assert [r["export"] for r in records] == [str(done[s]) for s in (10, 30, 50)]
    assert exported_before(done[30], sha256_of(found[2].path))
    keep(recipe, 30, phase=1, validation=0.5)
    assert not exported_before(done[30], sha256_of(found[2].path))  # new bytes under the old name
    timeline_exports(recipe, every=2)
    assert exported == [done[30]]


def test_the_timeline_heading_names_the_run_s_phase_boundary_and_its_inputs_include_the_user_s(tmp_path):
    from compare import probes
    from rave_to_chaos.timeline import inputs_of, title_of
    from safeio.audio import write_wav

    recipe = lay_out_run(tmp_path, [10])
    title = title_of(recipe)
    assert title["phase_1_duration"] == 25 and title["run"] == recipe.run_name and title["config"] == "v2_small"
    tone = 0.1 * np.sin(np.arange(probes.SR) / 10)[None].astype(np.float32)
    mine = tmp_path / "my take.wav"
    write_wav(mine, tone, probes.SR)
    assert set(inputs_of(recipe, [])) == set(probes.synthetic()), "no raw folder: the probes alone"
    for name in ("a.wav", "sub/b take.flac", "sub/deeper/c.wav", "sub/deeper/d.wav"):
        (recipe.raw_dir / name).parent.mkdir(parents=True, exist_ok=True)
        write_wav(recipe.raw_dir / name, tone, probes.SR)
    without, with_mine = inputs_of(recipe, []), inputs_of(recipe, [mine])
    assert set(without) - set(probes.synthetic()) == {"noise/a", "noise/sub/deeper/c", "noise/sub/deeper/d"}
    assert set(with_mine) - set(without) == {next(iter(probes.recordings([mine])))}


def test_a_latent_seed_reaches_a_decoder_that_draws_noise(tmp_path):
    from compare import latent
    from compare.control_models import FixedDecoder

    class NoisyDecoder(FixedDecoder):
        @torch.jit.export
        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return 0.1 * torch.randn(z.shape[0], 1, z.shape[-1] * self.ratio)

    torch.jit.script(NoisyDecoder()).save(str(tmp_path / "noisy.ts"))
    z = np.zeros((1, 8), np.float32)
    a, b, c = (latent.decode(tmp_path / "noisy.ts", z, seed) for seed in (3, 3, 4))
    assert a.shape == (8 * FixedDecoder.RATIO,) and np.array_equal(a, b) and not np.allclose(a, c)
