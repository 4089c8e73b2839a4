"""RAVE's gin settings checked before training: each mistake one sentence; each recipe's schedule."""

import pytest

from rave_pipeline.commands import gin_check, recipes


def configs(name):
    r = recipes.load(name)
    return r, [r.config, str(r.gin_path)]


@pytest.mark.parametrize("name", ["noise", "voice"])
def test_each_recipe_trains_a_real_adversarial_phase(name):
    recipe, cfg = configs(name)
    phase_1 = gin_check.check(cfg, [])["phase_1_duration"]  # as rave train resolves it
    assert phase_1 == 1_000_000
    assert recipe.max_steps - phase_1 >= phase_1, "at least as many adversarial steps as reconstruction ones"


@pytest.mark.parametrize(
    "binding,says",
    [
        ("PHASE_1_DURATION=500000", None),
        ("PHASE_1_DUATION=5", "sets PHASE_1_DUATION, which nothing in v2_small, noise reads"),  # gin would ignore it
        ("RAVE.foo=1", "doesn't have a parameter named 'foo'"),
        ("Nope.x=1", "No configurable matching 'Nope'"),
        ("PHASE_1_DURATION", "is not a gin binding"),  # OVERRIDE='A = 1' split
        ("RAVE.phase_1_duration=", "is not a gin binding (Unable to parse value"),
        ("PHASE_1_DURATION=-5", "sets PHASE_1_DURATION to -5: it takes a whole number of steps"),
    ],
)
def test_override_mistakes_are_one_sentence(binding, says):
    _, cfg = configs("noise")
    result = gin_check.check(cfg, [binding])
    if says is None:
        assert result == {"phase_1_duration": 500000, "compression": 512}  # v2_small: 32 x 16 samples a frame
    else:
        assert says in result["error"] and f"OVERRIDE '{binding}'" in result["error"]


@pytest.mark.parametrize("bad", ["RAVE.foo=1", "Nope.x=1"])
def test_a_bad_override_among_several_is_the_one_named(bad):
    _, cfg = configs("noise")
    error = gin_check.check(cfg, ["PHASE_1_DURATION=500000", bad, "CAPACITY=32"])["error"]
    assert error.startswith(f"OVERRIDE '{bad}' does not fit"), error
