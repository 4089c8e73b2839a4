"""The codebase's own rules: small modules and functions, one reader of the environment, spec needing only
the standard library, spec's facts true of the installed acids-rave, mutants that still apply, and ruff."""

import ast
import math
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers.cli import REPO, run_make
from spec import rave as rave_facts
from spec.settings import ENVIRONMENT_VARIABLES, OPTIONS, SETTINGS

PACKAGES = ["spec", "safeio", "chaos_models", "audition", "compare", "rave_pipeline", "rave_to_chaos"]
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 250, 60
BIN = Path(sys.executable).parent


def code_files(root: Path = REPO):
    for top in [*PACKAGES, "scripts"]:
        yield from sorted(p for p in (root / top).rglob("*.py") if "__pycache__" not in p.parts)


def too_long(root: Path) -> list[str]:
    found = []
    for path in code_files(root):
        text = path.read_text()
        rel = path.relative_to(root)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{rel}:{node.lineno} {node.name}: {length} lines")
    return found


@pytest.mark.form
def test_no_module_over_250_lines_and_no_function_over_60():
    assert not too_long(REPO), "\n".join(too_long(REPO))


def test_the_size_check_sees_a_long_function(tmp_path):
    (tmp_path / "spec").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "spec" / "long.py").write_text(f"def f():\n{body}\n")
    assert too_long(tmp_path) == ["spec/long.py:1 f: 61 lines"]


ENVIRON = re.compile(r"\bos\.environ\b|\bgetenv\(|\bfrom os import .*\benviron\b")


def environment_readers(root: Path) -> list[str]:
    return [
        f"{p.relative_to(root)}:{n}: {line.strip()}"
        for p in code_files(root)
        if p.relative_to(root) != Path("safeio/environment.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if ENVIRON.search(line)
    ]


def test_only_safeio_environment_reads_the_environment(tmp_path):
    assert not environment_readers(REPO), "\n".join(environment_readers(REPO))
    (tmp_path / "audition").mkdir()
    (tmp_path / "audition" / "x.py").write_text('import os\nTHREADS = os.environ.get("OMP_NUM_THREADS")\n')
    assert len(environment_readers(tmp_path)) == 1


def test_every_variable_read_is_declared_and_every_declared_one_is_read():
    read = set()
    for path in code_files():
        read |= set(re.findall(r"\benv\(\s*\"([A-Z0-9_]+)\"", path.read_text()))
    read |= {"NN_TILDE_SRC", "NN_AR_SRC"}  # audition/real_hosts.py reads the one its caller names
    read |= {"RAVE_TO_CHAOS_TORCH_SEED"}  # read by hosts/real/seed_torch.cpp inside a real host
    read |= {"REQUIRE_REAL_HOSTS"} if "REQUIRE_REAL_HOSTS" in (REPO / "tests/conftest.py").read_text() else set()
    declared = {s.var for s in ENVIRONMENT_VARIABLES}
    assert read - set(SETTINGS) == set(), "read but not declared in spec/settings.py"
    assert declared - read == set(), "declared in spec/settings.py but read nowhere"


def test_help_lists_every_setting():
    make = run_make("help", timeout=60)
    cli = subprocess.run([str(BIN / "rave-to-chaos"), "help"], capture_output=True, text=True, timeout=60)
    for out in (make.stdout, cli.stdout):
        for s in OPTIONS + ENVIRONMENT_VARIABLES:
            assert re.search(rf"^\s+{s.var}\s", out, re.M), f"{s.var} missing from help"


def spec_imports_outside_stdlib(root: Path) -> list[str]:
    """Import every spec module in a fresh interpreter; the modules it loaded beyond the standard library."""
    modules = sorted(p.stem for p in (root / "spec").glob("*.py") if p.stem != "__init__")
    code = (
        "import sys; before = set(sys.modules); import spec; "
        + "; ".join(f"import spec.{m}" for m in modules)
        + "; print(' '.join(sorted(m for m in set(sys.modules) - before"
        " if m.split('.')[0] not in sys.stdlib_module_names and m.split('.')[0] != 'spec')))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_spec_needs_only_the_standard_library(tmp_path):
    assert spec_imports_outside_stdlib(REPO) == []
    copy = tmp_path / "spec"
    copy.mkdir()
    for p in (REPO / "spec").glob("*.py"):
        (copy / p.name).write_text(p.read_text())
    (copy / "host.py").write_text("import numpy\n" + (copy / "host.py").read_text())
    assert "numpy" in spec_imports_outside_stdlib(tmp_path)


def gin_macros(config: str) -> dict[str, str]:
    """The macros of one of acids-rave's gin configs, its includes followed (a later binding wins)."""
    import rave

    root = Path(rave.__file__).parent
    macros = {}
    text = (root / "configs" / f"{config}.gin").read_text()
    for include in re.findall(r'^include\s+"([^"]+)"', text, re.M):
        macros.update(gin_macros(Path(include).stem))
    macros.update(dict(re.findall(r"^([A-Z_0-9]+)\s*=\s*(.+?)\s*$", text, re.M)))
    return macros


@pytest.mark.parametrize("config", sorted(rave_facts.CONFIGS))
def test_spec_facts_of_each_config_hold_for_the_installed_acids_rave(config):
    macros, facts = gin_macros(config), rave_facts.CONFIGS[config]
    assert tuple(ast.literal_eval(macros["RATIOS"])) == facts.ratios
    assert int(macros["N_BAND"]) == facts.bands
    assert facts.compression == math.prod(facts.ratios) * facts.bands
    assert int(macros["PHASE_1_DURATION"]) == rave_facts.PHASE_1_DEFAULT
    assert facts.min_n_signal % facts.compression == 0, "the smallest n_signal that trains is whole latent frames"


@pytest.mark.parametrize("config", sorted(rave_facts.CONFIGS))
def test_spec_pca_size_is_acids_rave_s(config):
    """Validation fits a PCA with as many components as the latent has dimensions (LATENT_SIZE)."""
    import rave

    assert "PCA(z.shape[-1])" in (Path(rave.__file__).parent / "model.py").read_text()
    assert int(gin_macros(config)["LATENT_SIZE"]) == rave_facts.PCA_COMPONENTS


@pytest.mark.form
def test_every_mutant_still_applies():
    """Each mutation's code is found exactly once in its file, an [area] covers the file, and the test
    modules named exist."""
    listed = tomllib.loads((REPO / "tests/mutants.toml").read_text())
    stale = [f"[area] {p}: no {t}" for p, ts in listed["area"].items() for t in ts if not (REPO / t).is_file()]
    for m in listed["mutant"]:
        path = REPO / m["file"]
        count = path.read_text().count(m["find"]) if path.is_file() else -1
        if count != 1:
            stale.append(f"{m['id']}: {count} matches in {m['file']}")
        if not any(m["file"].startswith(p) for p in listed["area"]):
            stale.append(f"{m['id']}: no [area] covers {m['file']}")
        stale += [f"{m['id']}: no {t}" for t in m.get("slow", []) if not (REPO / t.split("::")[0]).is_file()]
    ids = [m["id"] for m in listed["mutant"]]
    assert len(ids) == len(set(ids)), "mutant ids repeat"
    assert not stale, "\n".join(stale)


@pytest.mark.form
def test_ruff_finds_nothing_and_the_code_is_formatted():
    check = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout[-4000:]
    fmt = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", "."], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert fmt.returncode == 0, fmt.stdout[-4000:]


CITED = re.compile(
    r"(?<![\w/.])((?:spec|safeio|chaos_models|audition|compare|rave_pipeline|rave_to_chaos|scripts|tests|docs|hosts"
    r"|configs)/[\w./-]*\w)"
)


def missing_citations(root: Path) -> list[str]:
    """Paths of this project that comments and strings cite but that do not exist. Left alone: files the
    project writes (*.local.pd), acids-rave's own files (scripts/train.py, configs/v1.gin in its package)
    and names still being built (f"...{x}")."""
    import io
    import tokenize

    import rave

    theirs = Path(rave.__file__).parent
    found = []
    for path in code_files(root):
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if tok.type not in (tokenize.COMMENT, tokenize.STRING):
                continue
            for ref in (m.group(1).rstrip(".") for m in CITED.finditer(tok.string)):
                written = ref.endswith(".local.pd") or ref.endswith("_")
                if not ((root / ref).exists() or written or (theirs / ref).exists() or (theirs.parent / ref).exists()):
                    found.append(f"{path.relative_to(root)}:{tok.start[0]}: {ref}")
    return found


@pytest.mark.form
def test_no_comment_cites_a_file_that_does_not_exist(tmp_path):
    assert not missing_citations(REPO), "\n".join(missing_citations(REPO))
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "x.py").write_text("# as tests/test_layers.py checks\n")
    assert missing_citations(tmp_path) == ["spec/x.py:1: tests/test_layers.py"]
