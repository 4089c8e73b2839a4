"""The spec layer: facts written once (spec/), layers kept by import-linter, patches that name what spec
names, and the one command."""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers.cli import REPO, run_cli, run_make
from rave_pipeline.commands import recipes
from spec import names
from spec.host import DEFAULT_BUFFER, SR
from spec.instruments import ESSAY_EXPORTS

LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES = ["spec", "safeio", "chaos_models", "audition", "compare", "rave_pipeline", "rave_to_chaos"]


def lint(src: Path, work: Path):
    """lint-imports on the packages under `src`, with scripts/ added as the top layer: acids-rave installs a
    package named `scripts`, so the scripts are linted as `project_scripts`, a copy in `work`."""
    for p in PACKAGES:
        (work / p).symlink_to(src / p)
    shadow = work / "project_scripts"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("")
    for script in (src / "scripts").glob("*.py"):
        (shadow / script.name).write_text(script.read_text())
    config = tomllib.loads((src / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = [
        "[tool.importlinter]",
        f"root_packages = {json.dumps(['project_scripts', *config['root_packages']])}",
        "include_external_packages = true",
    ]
    for c in config["contracts"]:
        if c["id"] == "layers":
            c = {**c, "layers": ["project_scripts", *c["layers"]]}
        lines += ["", "[[tool.importlinter.contracts]]", *(f"{k} = {json.dumps(v)}" for k, v in c.items())]
    (work / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return subprocess.run(
        [str(LINT)],
        cwd=work,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(work)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_hold(tmp_path):
    r = lint(REPO, tmp_path)
    assert r.returncode == 0 and "3 kept, 0 broken" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


@pytest.mark.parametrize(
    "module,line,contract",
    [
        ("chaos_models/models.py", "from audition.host import Host", "the command, then the pipeline"),
        ("audition/host.py", "from compare import metrics", "the command, then the pipeline"),
        ("spec/host.py", "from safeio import UserError", "the command, then the pipeline"),
        ("rave_to_chaos/cli.py", "import project_scripts.mutants", "the command, then the pipeline"),
        ("rave_pipeline/data/dataset.py", "from rave_pipeline.benchmarks import bench_train", "rave_pipeline's rooms"),
        (
            "rave_pipeline/inside_rave/loader.py",
            "from rave_pipeline.commands import recipes",
            "what runs inside RAVE's process",
        ),
    ],
)
def test_an_import_across_the_layers_breaks_the_lint(tmp_path, module, line, contract):
    """One forbidden import in a scratch copy: lint-imports fails and names the contract."""
    src = tmp_path / "src"
    for p in [*PACKAGES, "scripts"]:
        shutil.copytree(REPO / p, src / p, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", src)
    target = src / module
    target.write_text(line + "\n" + target.read_text())
    (tmp_path / "work").mkdir()
    r = lint(src, tmp_path / "work")
    assert r.returncode == 1 and f"{contract}" in r.stdout and "BROKEN" in r.stdout, r.stdout[-3000:]


def sources(*globs):
    for g in globs:
        yield from (p for p in REPO.glob(g) if "__pycache__" not in p.parts)


def spec_facts() -> dict[str, re.Pattern]:
    """Every distinctive value spec holds, as the literal another file would have to write to repeat it: whole
    numbers of five digits or more (in any spelling: 1000000, 1_000_000), importable class paths, the export
    names' patterns and the names of the typed ranges."""
    import dataclasses

    from spec import host, inlets, instruments, rave, settings

    values = {}
    for module in (host, inlets, instruments, names, rave, settings):
        for key, value in vars(module).items():
            found = [value]
            if isinstance(value, dict):
                found = [*value, *value.values()]
            found = [
                v
                for x in found
                for v in (dataclasses.astuple(x) if dataclasses.is_dataclass(x) and not isinstance(x, type) else [x])
            ]
            for v in found:
                if isinstance(v, int) and not isinstance(v, bool) and 10_000 <= abs(v) < 2**31:
                    digits = str(abs(v))
                    spelled = "_?".join(
                        digits[max(i - 3, 0) : i] for i in range(len(digits) % 3 or 3, len(digits) + 1, 3)
                    )
                    values[f"{module.__name__}.{key} = {v}"] = re.compile(rf"(?<![\w.]){spelled}(?![\w.])")
                elif isinstance(v, str) and re.fullmatch(r"chaos_models\.\w+\.\w+", v):
                    values[f"{module.__name__}.{key}: {v}"] = re.compile(re.escape(v))
    values |= {
        "spec.names: the hand-written export name": re.compile(r"_ops\d+_w\d"),
        "spec.names.TRAINED_SUFFIX": re.compile(r"_streaming\.ts"),
        "spec.instruments.W_MULT_RANGE": re.compile(r"W_MULT_RANGE\s*="),
    }
    return values


def test_facts_are_written_once():
    """Each fact spec names appears as a literal only in spec/. Tests may write a number as the known answer
    they hold spec to (RAVE's phase 1, its smallest n_signal), but not the host rate or export names."""
    facts, offenders = spec_facts(), []
    assert {"spec.host.SR = 44100", "spec.rave.PHASE_1_DEFAULT = 1000000", "spec.rave.CONFIGS = 40960"} <= set(facts)
    in_tests = {k: v for k, v in facts.items() if k.startswith(("spec.host.SR", "spec.names", "spec.instruments.W_"))}
    for path in sources("*/*.py", "*/*/*.py", "tests/**/*.py", "scripts/*.py"):
        rel = path.relative_to(REPO)
        if rel.parts[0] in ("spec", ".venv") or rel.name == "test_spec_layer.py":
            continue
        held = in_tests if rel.parts[0] == "tests" else facts
        for n, text in enumerate(path.read_text().splitlines(), 1):
            offenders += [f"{rel}:{n}: {fact}: {text.strip()}" for fact, lit in held.items() if lit.search(text)]
    assert not offenders, "\n".join(offenders)


def default_exports() -> set[str]:
    hand = {names.hand_written(m, hp["operators"], hp["w_mult"]) for m, hp in ESSAY_EXPORTS}
    hand |= {
        names.essay(m)
        for m in ("streaming_chaos_effect", "live_chaos_effect", "live_model_synth", "hybrid_chaos_effect")
    } | {names.essay("morph_chaos_effect", seed_b=1)}
    trained = {recipes.load(r).export_path.name for r in recipes.names()}
    return hand | trained


def test_patches_name_the_exports_and_buffer_spec_names():
    """Every export a shipped patch loads is one make export-all writes; every buffer and rate is spec's."""
    patches = list(sources("hosts/**/*.scd", "hosts/**/*.pd", "hosts/**/*.pd.in"))
    assert len(patches) >= 8
    known, seen = default_exports(), set()
    for path in patches:
        text = path.read_text()
        for name in re.findall(r"(?<![*\w])(\w+\.ts)\b", text):  # not the tail of a glob (timeline/noise/*_step*...)
            if "seedS" not in name:  # a comment's pattern for any seed
                assert name in known, f"{path.name} names {name}, which no export target writes"
                seen.add(name)
        buffers = (
            re.findall(r"NN\([^)]*\)\.ar\((?:[^()]|\([^()]*\))*?,\s*(\d+)\s*[,)]", text)
            + re.findall(r"bufsize (\d+)", text)
            + re.findall(r"nn~ \S+ \w+ (\d+)", text)
            + re.findall(r"2 \* (\d+) /", text)
        )
        assert all(int(b) == DEFAULT_BUFFER for b in buffers), (path.name, buffers)
        assert all(int(r) == SR for r in re.findall(r"\?\s*(\d{5})", text)), path.name
    assert {
        names.essay("chaos_effect"),
        names.essay("live_chaos_effect"),
        recipes.load("noise").export_path.name,
    } <= seen


def test_one_command_runs_every_make_target_it_names():
    cli = Path(sys.executable).parent / "rave-to-chaos"
    r = subprocess.run([str(cli), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "export-chaos" in r.stdout and "bench-chaos" in r.stdout, r.stderr
    make_targets = set(re.findall(r"^([a-z-]+):", (REPO / "Makefile").read_text(), re.M))
    from rave_to_chaos.cli import COMMANDS

    per_recipe = (
        "preprocess",
        "train",
        "export",
        "timeline",
        "cluster-train",
        "cluster-timeline",
    )  # make <target>-<recipe>
    plain = {c for c in COMMANDS if c not in (*per_recipe, "info", "render")}
    assert plain <= make_targets, plain - make_targets
    r = subprocess.run([str(cli), "nonsense"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown subcommand 'nonsense'" in r.stderr
    r = run_cli("-m", "rave_to_chaos.cli", "info", "--help")
    assert r.returncode == 0 and "info" in r.stdout, r.stderr


def test_make_variables_and_flags_take_one_path(tmp_path):
    """BATCH=0 from make and --batch 0 from the command line: the same sentence, before any work."""
    via_make = run_make("train-noise", f"ROOT={tmp_path}", "BATCH=0")
    via_flag = run_cli("-m", "rave_pipeline", "train", "noise", "--root", tmp_path, "--batch", "0")
    for r in (via_make, via_flag):
        assert r.returncode == 2 and "BATCH=0 is not a whole number of 1 or more" in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists()


def test_export_names_follow_one_scheme():
    """The names themselves, written out once here: what patches, manifests and users see."""
    assert names.essay("chaos_effect") == "chaos_effect_ops14_w2_seed0.ts"
    assert names.hand_written("chaos_effect", 14, 2.0) == "chaos_effect_ops14_w2_seed0.ts", "w_mult 2.0 is w2"
    assert names.essay("morph_chaos_effect", seed=3, seed_b=4) == "morph_chaos_effect_ops14_w2_seed3to4.ts"
    assert names.essay("live_model_synth") == "live_model_synth_ops7_w1_seed0.ts"
    assert names.hand_written("chaos_effect", 5, 0.5, kernel=3, seed=2) == "chaos_effect_ops5_w0.5_k3_seed2.ts"
    assert names.trained("noise", "v2_small") == "noise_v2_small_streaming.ts"
    assert names.trained("noise", "v2_small", 120000) == "noise_v2_small_step120000_streaming.ts"
    assert recipes.load("voice").export_path.name == "voice_v2_streaming.ts"


def test_any_root_name_reaches_the_command_as_typed(tmp_path):
    """Quotes, $, spaces and unicode in ROOT travel through make exactly as typed (no shell in between, and
    make does not expand the `$HOME` typed on its command line)."""
    odd = tmp_path / 'my "runs" $HOME ü'
    r = run_make("preprocess-noise", f"ROOT={odd}")
    assert r.returncode == 2 and f"{odd}/datasets/noise/raw does not exist" in r.stderr, r.stderr
    assert [p.name for p in tmp_path.iterdir()] in ([], [odd.name]), "no folder made from a mangled name"


def test_export_all_exports_what_it_can_into_one_folder_then_names_what_it_could_not(tmp_path):
    r = run_make("export-all", f"ROOT={tmp_path}", f"EXPORTS={tmp_path / 'mine'}", "SKIP_NEUTONE=1", timeout=600)
    assert r.returncode == 2, r.stdout + r.stderr
    for recipe in recipes.names():
        assert f"not exported: {recipe}: no checkpoint in {tmp_path}/runs/{recipe}" in r.stderr, r.stderr
    made = {p.name for p in (tmp_path / "mine").glob("*.ts")}
    assert {
        names.essay("chaos_effect"),
        names.essay("live_chaos_effect"),
        names.essay("streaming_chaos_effect"),
    } <= made
    assert not (REPO / "exports" / "mine").exists() and not list(tmp_path.glob("exports"))
    assert not (tmp_path / "mine/neutone").exists(), "SKIP_NEUTONE=1 leaves the Neutone models out"
