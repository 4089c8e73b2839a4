"""Host patches: the .scd files parse in sclang (NN stubbed), the Pd patch opens in pd -nogui -batch."""

import os
import re
import shutil
import subprocess

import pytest

from helpers.cli import REPO, run_cli

SC_DIR = REPO / "hosts/supercollider"
PD_DIR = REPO / "hosts/puredata"


def scd_chunks(text: str) -> list[str]:
    """What a user evaluates: each top-level ( ... ) block, and each statement line outside blocks."""
    chunks, block = [], None
    for line in text.splitlines():
        if block is None and line.strip() == "(":
            block = []
        elif block is not None and line.strip() == ")":
            chunks.append("(\n" + "\n".join(block) + "\n)")
            block = None
        elif block is not None:
            block.append(line)
        elif line.strip() and not line.strip().startswith("//"):
            chunks.append(line)
    assert block is None, "unclosed ( block"
    return chunks


def sclang_compile(tmp_path, chunks: list[str]) -> subprocess.CompletedProcess:
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    (stub / "NN.sc").write_text("NN { }\n")  # nn.ar itself is not installed here: only its class name
    conf = tmp_path / "sclang_conf.yaml"
    conf.write_text(f"includePaths:\n    - {stub}\nexcludePaths: []\npostInlineWarnings: false\n")
    files = []
    for i, chunk in enumerate(chunks):
        f = tmp_path / f"chunk{i:03d}.scd"
        f.write_text(chunk)
        files.append(str(f))
    driver = tmp_path / "driver.scd"
    driver.write_text("""(
var failed = 0;
thisProcess.argv.do { |path|
    var f = File.readAllString(path).compile;
    if(f.isNil) { ("PARSE ERROR: " ++ path).postln; failed = failed + 1 } { ("PARSED: " ++ path).postln };
};
if(failed > 0) { 1.exit } { 0.exit };
)
""")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QTWEBENGINE_DISABLE_SANDBOX": "1"}
    return subprocess.run(
        ["sclang", "-l", str(conf), str(driver), *files],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )


needs_sclang = pytest.mark.skipif(
    shutil.which("sclang") is None, reason="sclang not installed (make setup installs supercollider-language)"
)
needs_pd = pytest.mark.skipif(shutil.which("pd") is None, reason="pd not installed (make setup installs puredata-core)")


@needs_sclang
def test_supercollider_files_parse(tmp_path):
    files = sorted(SC_DIR.glob("*.scd"))
    chunks = [c for f in files for c in scd_chunks(f.read_text())]
    r = sclang_compile(tmp_path, chunks)
    assert r.returncode == 0 and r.stdout.count("PARSED: ") == len(chunks), r.stdout[-3000:]


@needs_sclang
def test_the_parse_check_can_fail(tmp_path):
    r = sclang_compile(tmp_path, ["(\nvar x = NN(\\void, \\topo).ar([1, 2], 2048);\n)", "(\nvar y = 1 + ;\n)"])
    assert r.returncode == 1 and "PARSE ERROR" in r.stdout and r.stdout.count("PARSED: ") == 1


def test_supercollider_files_hold_the_essays_synthdefs():
    text = "\n".join(f.read_text() for f in SC_DIR.glob("*.scd"))
    for name in ["topo", "Chaos", "topo_sender", "chaos_processor", "perc", "pad"]:
        assert f"SynthDef(\\{name}," in text, name
    assert re.findall(r"~exports = ", text) and len(re.findall(r"~exports = ", text)) == 1, "the path is set once"
    assert "Amplitude.kr" in text and "Bus.audio" in text and "FreeVerb" in text and "Env.perc" in text


def pd_objects(text: str) -> tuple[int, list[tuple[int, int, int, int]]]:
    records = [r.strip() for r in re.split(r"(?<!\\);\n", text) if r.strip()]
    count = sum(1 for r in records if re.match(r"#X (obj|msg|floatatom|text|symbolatom)", r))
    connects = [tuple(map(int, r.split()[2:6])) for r in records if r.startswith("#X connect")]
    return count, connects


@needs_pd
@pytest.mark.parametrize("generated", [False, True])
def test_pd_patch_opens(tmp_path, generated):
    patch = PD_DIR / "side_by_side.pd"
    if generated:
        patch = tmp_path / "with spaces" / "side by side.pd"
        patch.parent.mkdir()
        r = run_cli(str(REPO / "scripts/make_pd_patch.py"), "--out", str(patch))
        assert r.returncode == 0, r.stderr
        assert str(REPO / "exports") in patch.read_text().replace("\\ ", " ")
    text = patch.read_text()
    n, connects = pd_objects(text)
    assert all(src < n and dst < n for src, _, dst, _ in connects)
    r = subprocess.run(
        ["pd", "-nogui", "-batch", "-noaudio", "-open", str(patch), "-send", "pd quit"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    for problem in ("connection failed", "bad arguments", "syntax error", "no such object"):
        assert problem not in out, out
    # only nn~ itself may be missing here (it is not packaged for Debian)
    for line in re.findall(r"verbose\(\d\): (.*)\n.*couldn't create", out):
        assert line.startswith("nn~"), line


def test_pd_patch_sends_bufsize_before_dsp():
    text = (PD_DIR / "side_by_side.pd").read_text()
    lines = [l for l in re.split(r"(?<!\\);\n", text) if re.match(r"#X (obj|msg|floatatom|text)", l.strip())]
    index = {i: l for i, l in enumerate(lines)}
    trigger = next(i for i, l in index.items() if " t b b" in l)
    bufsize = next(i for i, l in index.items() if l.startswith("#X msg") and "bufsize" in l and "quit" not in l)
    dsp = next(i for i, l in index.items() if "pd dsp 1" in l)
    trained = next(i for i, l in index.items() if "nn~" in l and "forward" in l)
    conns = set(tuple(map(int, c.split()[2:6])) for c in re.findall(r"#X connect [^;]*", text))
    # [t b b] fires right to left: bufsize first (outlet 1), DSP on second (outlet 0)
    assert (trigger, 1, bufsize, 0) in conns and (trigger, 0, dsp, 0) in conns and (bufsize, 0, trained, 0) in conns


@needs_pd
def test_the_live_reroll_patch_opens_and_wires_seed_to_nn_tilde():
    patch = PD_DIR / "reroll_live.pd"
    text = patch.read_text()
    n, connects = pd_objects(text)
    assert all(src < n and dst < n for src, _, dst, _ in connects)
    lines = [l for l in re.split(r"(?<!\\);\n", text) if re.match(r"#X (obj|msg|floatatom|text)", l.strip())]
    seed = next(i for i, l in enumerate(lines) if "set seed" in l)
    nn = next(i for i, l in enumerate(lines) if "nn~" in l and "live_chaos_effect" in l)
    assert (seed, 0, nn, 0) in connects
    r = subprocess.run(
        ["pd", "-nogui", "-batch", "-noaudio", "-open", str(patch), "-send", "pd quit"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0 and not any(p in out for p in ("connection failed", "bad arguments", "syntax error")), out


def test_late_blocks_are_64_exact_zeros_after_the_first_sound_counted_apart_in_the_first_second():
    import numpy as np

    from audition.jack import late_blocks
    from spec.host import HOST_BLOCK, SR

    y = np.sin(np.arange(3 * SR) * 0.05).astype(np.float32) + 2.0  # never zero on its own
    y[:1000] = 0  # the latency and nn.ar's load: before the first sound
    first = 1000 // HOST_BLOCK * HOST_BLOCK  # counted in blocks from the block that first sounds
    for k in (10, 700, 1400):  # starved blocks (nn.ar plays zeros a whole block at a time):
        y[first + k * HOST_BLOCK :][:HOST_BLOCK] = 0  # one in the first second (689 blocks), two after it
    y[first + SR // 2 : first + SR // 2 + HOST_BLOCK - 1] = 0  # 63 zeros: a quiet moment, not a block
    assert late_blocks(y) == (1, 2)
    assert late_blocks(np.zeros(SR, np.float32)) == (0, 0)


def test_generated_pd_patches_number_their_boxes_and_escape_paths():
    from pathlib import Path

    from audition.pd_patch import Patch, pd_symbol

    pd = Patch()
    saw, gain, dac = pd.box("obj phasor~ 110", 10, 20), pd.box("obj *~ 0.1"), pd.box("obj dac~", 10, 90)
    pd.chain(saw, gain, dac)
    pd.wire(gain, dac, 0, 1)
    assert pd.text() == (
        "#N canvas 0 0 600 400 12;\n#X obj 10 20 phasor~ 110;\n#X obj 10 10 *~ 0.1;\n"
        "#X obj 10 90 dac~;\n#X connect 0 0 1 0;\n#X connect 1 0 2 0;\n#X connect 1 0 2 1;\n"
    )
    assert pd_symbol(Path("/a b/c,d;$e.ts")) == "/a\\ b/c\\,d\\;\\$e.ts"


def test_make_pd_patch_passes_its_buffer():
    r = subprocess.run(["make", "-n", "pd-patch", "BUFFER=1024"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "scripts/make_pd_patch.py" in r.stdout and "--buffer 1024" in r.stdout, r.stdout


def test_an_installed_plugin_is_found_where_the_host_looks_first_user_then_system(tmp_path):
    from audition.real_hosts import installed

    user, system = tmp_path / "user", tmp_path / "system"
    for root, rel in ((system, "nn.ar/NNUGens_scsynth.so"), (user, "nn.ar/NNUGens_scsynth.so")):
        (root / rel).parent.mkdir(parents=True)
        (root / rel).write_bytes(b"")
    assert installed((str(user), str(system)), "nn.ar/NNUGens_scsynth.so") == user
    assert installed((str(tmp_path / "none"), str(system)), "nn.ar/NNUGens_scsynth.so") == system
    (user / "pd/nn_tilde").mkdir(parents=True)
    (user / "pd/nn_tilde/nn~.pd_linux").write_bytes(b"")
    assert installed((str(system), str(user)), "nn~.pd_linux") == user / "pd/nn_tilde"  # two folders down
    assert installed((str(system),), "nn~.pd_linux") is None
