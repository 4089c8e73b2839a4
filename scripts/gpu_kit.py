"""make gpu-kit: gather what `make gpu-evidence` needs on a GPU machine that has its own Python and torch and
reaches no package registry -> .gpu-kit/ (ignored by git; carried beside the checkout).

    .venv/bin/python scripts/gpu_kit.py [--python 3.12] [--out .gpu-kit]

- wheels/: acids-rave and the pure-Python packages it needs that such a machine lacks, at the versions
  this checkout's venv runs, for the machine's Python; GPUtil (an sdist only) built into a wheel here; and
  imageio-ffmpeg 0.5.1, whose static ffmpeg (4.2.2, with the MP3 encoder) decodes the recordings and
  encodes the clips there. The machine's own torch, torchaudio, numpy, scipy and matplotlib are used.
- data/noise/: the demo noise recordings (make demo-data) as FLAC, lossless and smaller.
"""

import argparse
import importlib.metadata
import subprocess
import sys
from pathlib import Path

from safeio import UserError, cli_main, require_tool

REPO = Path(__file__).resolve().parents[1]
from rave_pipeline.benchmarks.evidence import CARRIED, FFMPEG, SDIST_ONLY  # noqa: E402  (one list, two users)

PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64"]
LIMIT_MB = 60  # a device call carries 64 MiB with the checkout


def download(specs: list[str], into: Path, python: str) -> None:
    plat = [a for p in PLATFORMS for a in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(into)]
    subprocess.run([*cmd, "--python-version", python, "--implementation", "cp", *plat, *specs], check=True)


def flac(raw: Path, into: Path) -> list[Path]:
    ffmpeg = require_tool("ffmpeg")
    files = sorted(p for p in raw.iterdir() if p.is_file()) if raw.is_dir() else []
    if not files:
        raise UserError(f"{raw} holds no recordings: run make demo-data first")
    into.mkdir(parents=True, exist_ok=True)
    out = []
    for p in files:
        target = into / f"{p.stem}.flac"
        if not target.exists():
            tmp = target.with_name(f".{target.name}.part.flac")
            subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(p), "-c:a", "flac", str(tmp)], check=True)
            tmp.replace(target)
        out.append(target)
    return out


@cli_main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default="3.12", help="the GPU machine's Python version (default 3.12)")
    ap.add_argument("--out", default=str(REPO / ".gpu-kit"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in CARRIED]
    download([*pins, FFMPEG], wheels, args.python)
    for name in SDIST_ONLY:
        pin = f"{name}=={importlib.metadata.version(name)}"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), pin], check=True)
    recordings = flac(REPO / "datasets" / "noise" / "raw", out / "data" / "noise")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and "site" not in p.parts)
    print(f"{out}: {len(list(wheels.glob('*.whl')))} wheels, {len(recordings)} recordings, {size / 2**20:.1f} MiB")
    if size > LIMIT_MB * 2**20:
        raise UserError(f"{out} holds {size / 2**20:.0f} MiB, over the {LIMIT_MB} MiB a device call carries")
    print("on the GPU machine: python3 scripts/gpu_evidence.py --dry-run, then without it (carry .gpu-kit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
