"""The essay's instruments as data: their settings, their inlets per method, the exports `make
export-chaos` writes of them, and the w_mult range measured usable (make ranges, README)."""

from spec.inlets import Inlet

# ChaosEffect(operators=14, w_mult=2) and ModelSynth(operators=7, w_mult=1), as the essay builds them.
ESSAY = {"chaos_effect": {"operators": 14, "w_mult": 2}, "model_synth": {"operators": 7, "w_mult": 1}}
# The essay's instruments exported as they stand, plus its "try different values" ChaosEffect(5, 4).
ESSAY_EXPORTS = [
    ("chaos_effect", ESSAY["chaos_effect"]),
    ("chaos_effect", {"operators": 5, "w_mult": 4}),
    ("model_synth", ESSAY["model_synth"]),
]
SEED_RANGE = (-(2**63), 2**63 - 1)  # what torch.manual_seed takes: every seed a CLI accepts
W_MULT_RANGE = (1.0, 4.0)  # usable for both (ChaosEffect at 14, ModelSynth at 7 operators); live exports clamp to it

# The inlets, with the ranges of the essay's patches.
X = Inlet("x", "audio input", "full scale", -1.0, 1.0)
MOD1 = Inlet("mod1", "sine fold depth", "multiple of pi", 1.0, 18.0)
MOD2 = Inlet("mod2", "tanh gate depth, unipolar", "gain", 0.0, 8.0)
CONTROL = Inlet("control", "intra-buffer phase perturbation", "gain", 1.0, 38.0)
MORPH = Inlet("morph", "weight morph from seed A to seed B", "share of B", 0.0, 1.0)

MODEL_SYNTH_METHODS = {"forward": (X, MOD1, MOD2)}
CHAOS_EFFECT_METHODS = {"forward": (X, MOD1, MOD2), "topo": (X, MOD1), "chaos": (X, CONTROL)}

# What a hand-written export is, by the importable path of its class (its manifest's "class"): the classes
# that compute the essay's ChaosEffect methods, and the name the report gives each variant. A claim about
# ChaosEffect counts exactly these; the report says which of them each claim's models include.
CHAOS_EFFECT_VARIANTS = {
    "chaos_models.models.ChaosEffect": "the essay's",
    "chaos_models.beyond.StreamingChaosEffect": "streaming",
    "chaos_models.beyond.MorphChaosEffect": "morph",
    "chaos_models.live.LiveChaosEffect": "live",
}
STREAMING_CLASSES = ("chaos_models.beyond.StreamingChaosEffect",)  # no buffer edges: the block-size-invariant one


def class_path(cls_name: str) -> str:
    """An export's class as an importable path; manifests written before it was one ("chaos_models.ChaosEffect")
    are read by the class name."""
    if cls_name.count(".") >= 2:
        return cls_name
    short = cls_name.rsplit(".", 1)[-1]
    return next((path for path in CHAOS_EFFECT_VARIANTS if path.endswith("." + short)), cls_name)
