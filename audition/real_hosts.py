"""The real nn~ (Pure Data) and nn.ar (SuperCollider), built from their sources against this venv's torch.

NN_TILDE_SRC and NN_AR_SRC name the sources (a `git archive` .tar.gz or a folder; .ci/run sets them). A build
is cached outside the checkout (~/.cache/rave-to-chaos/, or RAVE_TO_CHAOS_CACHE), keyed by the source and the
torch version, so a second run reuses it. The tests hold audition to these hosts; `make realtime` plays
exports in them in real time.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from safeio import cache_dir
from safeio.environment import child_env, env

REPO = Path(__file__).resolve().parents[1]
TOOLS = {
    "pd": "puredata-core",
    "sclang": "supercollider-language",
    "scsynth": "supercollider-server",
    "cmake": "cmake",
    "g++": "g++",
    "jackd": "jackd2",
}
HEADERS = {
    "/usr/include/pd/m_pd.h": "puredata-dev",
    "/usr/include/SuperCollider/plugin_interface/SC_PlugIn.h": "supercollider-dev",
}


def source_key(src: Path) -> str:
    h = hashlib.sha256()
    if src.is_file():
        h.update(src.read_bytes())
    else:
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(src)).encode() + f.read_bytes())
    import torch

    return f"{h.hexdigest()[:12]}-torch{torch.__version__}"


def missing_tools(*tools: str) -> list[str]:
    """The Debian packages to install for these tools (make setup installs them)."""
    return [TOOLS[t] for t in tools if shutil.which(t) is None]


# Where Pd and SuperCollider look for extensions themselves, the user's folders before the system's.
PD_EXTERNALS = ("~/Documents/Pd/externals", "~/pd-externals", "/usr/local/lib/pd-externals", "/usr/lib/pd/extra")
SC_EXTENSIONS = (
    "~/.local/share/SuperCollider/Extensions",
    "/usr/local/share/SuperCollider/Extensions",
    "/usr/share/SuperCollider/Extensions",
)


def installed(roots: tuple, product: str) -> Path | None:
    """The folder F (a root, or up to two folders down) with F/product installed, first root first."""
    for root in (Path(r).expanduser() for r in roots):
        for folder in [root, *sorted(root.glob("*")), *sorted(root.glob("*/*"))]:
            if (folder / product).is_file():
                return folder
    return None


def built(setting: str, name: str, product: str, tools: tuple, header: str, roots: tuple) -> tuple[Path | None, str]:
    """The real host's plugin: built from the source `setting` names (when it is set: asked for), once per
    source and torch version; else the one installed where the host looks for extensions; else none.
    -> (folder holding it, how it was chosen) or (None, why it cannot be had here)."""
    src = env(setting)
    if not src:
        found = installed(roots, product)
        if found is not None:
            return found, f"installed: {found / product} ({setting} not set)"
        where = ", ".join(roots)
        return (
            None,
            f"{setting} is not set (a {name} source archive or folder; .ci/run sets it) "
            f"and none is installed in {where}",
        )
    src = Path(src)
    if not src.exists():
        return None, f"{setting}={src} does not exist"
    missing = missing_tools(*tools) + [HEADERS[header]] * (not Path(header).exists())
    if missing:
        return None, f"missing {' '.join(missing)} (make setup installs them)"
    out = cache_dir(f"{name}-{source_key(src)}")
    if not (out / product).exists():
        r = subprocess.run(
            ["bash", str(REPO / f"hosts/real/build_{name}.sh"), str(src), str(out)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if r.returncode:
            raise RuntimeError(f"building {name} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return out, f"built from {setting}={src} (cached in {out})"


def nn_tilde() -> tuple[Path | None, str]:
    return built(
        "NN_TILDE_SRC", "nn_tilde", "nn~.pd_linux", ("pd", "cmake", "g++"), "/usr/include/pd/m_pd.h", PD_EXTERNALS
    )


def nn_ar() -> tuple[Path | None, str]:
    return built(
        "NN_AR_SRC",
        "nn_ar",
        "nn.ar/NNUGens_scsynth.so",
        ("sclang", "scsynth", "cmake", "g++"),
        "/usr/include/SuperCollider/plugin_interface/SC_PlugIn.h",
        SC_EXTENSIONS,
    )


def torch_env(seed: int | None = None) -> dict:
    """The hosts load the venv's libtorch, as the plugins were built against it; with a seed, the host
    starts with libtorch's generator seeded (hosts/real/seed_torch.cpp, preloaded)."""
    import torch

    env = child_env(LD_LIBRARY_PATH=str(Path(torch.__file__).parent / "lib"))
    if seed is not None:
        env.update(LD_PRELOAD=str(seed_shim()), RAVE_TO_CHAOS_TORCH_SEED=str(seed))
    return env


def seed_shim() -> Path:
    """hosts/real/seed_torch.cpp compiled against the venv's torch, once per torch version (cached)."""
    import torch

    lib = Path(torch.__file__).parent
    source = REPO / "hosts/real/seed_torch.cpp"
    out = cache_dir(f"seed_torch-{torch.__version__}-{hashlib.sha256(source.read_bytes()).hexdigest()[:8]}.so")
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        r = subprocess.run(
            [
                "g++",
                "-shared",
                "-fPIC",
                "-O1",
                "-std=c++17",
                "-D_GLIBCXX_USE_CXX11_ABI=1",
                f"-I{lib}/include",
                f"-I{lib}/include/torch/csrc/api/include",
                str(source),
                f"-L{lib}/lib",
                "-ltorch_cpu",
                "-lc10",
                f"-Wl,-rpath,{lib}/lib",
                "-o",
                str(tmp),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if r.returncode:
            raise RuntimeError(f"building the torch seed shim failed:\n{r.stderr[-3000:]}")
        os.replace(tmp, out)
    return out


def sc_plugins(nn_ar_dir: Path) -> str:
    """scsynth's -U: Debian's own UGens and the nn.ar build."""
    return f"/usr/lib/SuperCollider/plugins:{nn_ar_dir}/nn.ar"


def sclang_setup(nn_ar_dir: Path, work: Path, job: str, seed: int | None = None) -> tuple[list[str], dict]:
    """Write `job` (an sclang Event) and a config naming nn.ar's classes into `work`. -> (the sclang command
    line's start, to which the script is added, and its environment: headless, as root)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "job.scd").write_text(job)
    (work / "sclang.yaml").write_text(f"includePaths:\n  - {nn_ar_dir}/nn.ar/Classes\nexcludePaths: []\n")
    env = {
        **torch_env(seed),
        "NN_JOB": str(work / "job.scd"),
        "QTWEBENGINE_DISABLE_SANDBOX": "1",
        "QT_QPA_PLATFORM": "offscreen",
    }  # sclang aborts as root otherwise
    return ["sclang", "-l", str(work / "sclang.yaml")], env
