"""File names of exports, the same from every command, patch and test.

Hand-written: <model>_ops<N>_w<W>[_k<K>]_seed<S>[to<S_B>].ts (e.g. chaos_effect_ops14_w2_seed0.ts).
Trained: <run>_<config>_streaming.ts for a run's newest checkpoint, <run>_<config>_step<N>_streaming.ts
for any other (e.g. noise_v2_small_step120000_streaming.ts)."""

from spec.instruments import ESSAY

TRAINED_SUFFIX = "_streaming.ts"


def hand_written(
    model: str, operators: int, w_mult: float, kernel: int = 1, seed: int | None = 0, seed_b: int | None = None
) -> str:
    k = f"_k{kernel}" if kernel != 1 else ""
    b = f"to{seed_b}" if seed_b is not None else ""
    return f"{model}_ops{operators}_w{w_mult:g}{k}_seed{seed}{b}.ts"


def essay(model: str, seed: int = 0, **kw) -> str:
    """An export at the essay's setting: chaos_effect, streaming_/morph_/live_/hybrid_chaos_effect,
    model_synth, live_model_synth."""
    base = ESSAY["model_synth" if model.endswith("model_synth") else "chaos_effect"]
    return hand_written(model, base["operators"], base["w_mult"], seed=seed, **kw)


def trained(run: str, config: str, step: int | None = None) -> str:
    """step None: the run's newest checkpoint (the name patches load); otherwise that step's."""
    return f"{run}_{config}{'' if step is None else f'_step{step}'}{TRAINED_SUFFIX}"
