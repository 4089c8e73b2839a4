"""make gpu-evidence: a few GPU minutes -> a noise model trained through both of RAVE's phases, its timeline,
the comparison's verdicts on it, and a small folder of evidence (configs/measured/<card>-evidence/).

    python3 scripts/gpu_evidence.py [--minutes 8] [--dry-run] [--stage all|train|measure] [--kit .gpu-kit]

Runs with whatever Python holds torch (a GPU machine's own; nothing of .venv is needed): with --kit, the
wheels `make gpu-kit` gathered are installed into a folder on PYTHONPATH first, and the kit's static
ffmpeg is put on PATH. The plan (rave_pipeline/benchmarks/evidence_plan.py) takes the batch and s/step
that `make bench-gpu` measured on this card; --device cpu --steps P1,P2 rehearses the same path on CPU.
Every step is one of this project's own commands, run as a child process, timed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rave_pipeline.benchmarks import evidence, evidence_plan  # noqa: E402
from rave_pipeline.commands import recipes  # noqa: E402
from rave_pipeline.data.dataset import check_size  # noqa: E402
from safeio.environment import child_env  # noqa: E402

RECIPE = "noise"
PACKAGES = ("spec", "safeio", "chaos_models", "audition", "compare", "rave_pipeline", "rave_to_chaos")
SEEDS = 4  # ChaosEffect seeds compare judges its claims over, besides the essay's exports


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=8.0, help="training budget, both phases (default 8)")
    ap.add_argument("--device", default="auto", help="auto (CUDA if present), cuda or cpu")
    ap.add_argument("--stage", choices=("all", "train", "measure"), default="all")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, the wheels and the budget; run nothing")
    ap.add_argument("--kit", default=str(REPO / ".gpu-kit"), help="wheels, ffmpeg and recordings (make gpu-kit)")
    ap.add_argument("--root", default=str(Path(tempfile.gettempdir()) / "rave-evidence"), help="work folder")
    ap.add_argument("--out", default=None, help="evidence folder (default configs/measured/<card>-evidence)")
    ap.add_argument("--steps", default=None, help="P1,P2: steps of each phase, instead of the plan (rehearsals)")
    ap.add_argument("--n-signal", type=int, default=None, help="samples per example (default: the recipe's)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for timeline and compare")
    ap.add_argument("--seeds", type=int, default=SEEDS, help=f"compare's ChaosEffect seeds (default {SEEDS})")
    return ap.parse_args(argv)


def card() -> tuple[str, str]:
    """(device for rave, a short name for the card: h200, a100-80gb, cpu)."""
    import torch

    if not torch.cuda.is_available():
        return "cpu", "cpu"
    name = torch.cuda.get_device_name(0).lower().removeprefix("nvidia ").replace(" ", "-")
    return "cuda", name


def environment(kit: Path) -> dict:
    """The children's environment: the kit's packages before anything installed, its ffmpeg on PATH."""
    env = child_env(PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    site = kit / "site"
    if (kit / "wheels").is_dir():
        if not site.is_dir():
            wheels = sorted(map(str, (kit / "wheels").glob("*.whl")))
            pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
            subprocess.run([*pip, "--target", str(site), *wheels], check=True)
        for package in PACKAGES:  # beside the wheels: rave_cli takes the checkout off sys.path (acids-rave's scripts)
            if not (site / package).exists():
                (site / package).symlink_to(REPO / package)
        env["PYTHONPATH"] = f"{site}{os.pathsep}{REPO}"
        ffmpeg = next(site.glob("imageio_ffmpeg/binaries/ffmpeg-*"), None)
        if ffmpeg and not shutil.which("ffmpeg"):
            (kit / "bin").mkdir(exist_ok=True)
            link = kit / "bin" / "ffmpeg"
            link.unlink(missing_ok=True)
            ffmpeg.chmod(0o755)
            link.symlink_to(ffmpeg)
            env["PATH"] = f"{kit / 'bin'}{os.pathsep}{env['PATH']}"
    return env


class Steps:
    """Runs this project's commands as children, each timed; stops at the first that fails."""

    def __init__(self, env: dict, root: Path):
        self.env, self.root, self.walls = env, root, {}

    def run(self, name: str, module: str, *args) -> None:
        cmd = [sys.executable, "-m", module, *map(str, args)]
        print(f"\n== {name}: {' '.join(cmd[2:])}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.run(cmd, cwd=REPO, env=self.env).returncode
        self.walls[name] = round(time.perf_counter() - t0, 1)
        if code:
            raise SystemExit(f"gpu-evidence: {name} failed (exit {code}); its output is above")


def raw_recordings(kit: Path, root: Path) -> Path:
    """The noise recordings to train on: the kit's (they travel to a GPU machine), else the checkout's demo."""
    for folder in (kit / "data" / RECIPE, REPO / "datasets" / RECIPE / "raw"):
        if folder.is_dir() and any(folder.iterdir()):
            return folder
    raise SystemExit("gpu-evidence: no noise recordings: run make demo-data (here) or make gpu-kit (to carry them)")


def decide(args, recipe, device: str, name: str, chunks: int) -> evidence_plan.Plan:
    holds = evidence_plan.largest_batch(recipe.min_chunks, chunks)
    if args.steps:
        p1, p2 = (int(s) for s in args.steps.split(","))
        batch = min(recipe.cpu_batch, holds)
        return evidence_plan.Plan(batch, (0.0, 0.0), p1, p1 + p2, max(1, (p1 + p2) // 4), "given (--steps)")
    table = REPO / "configs" / "measured" / f"{name.split('-')[0]}.json"
    if device == "cpu" or not table.is_file():
        raise SystemExit(f"gpu-evidence: no s/step measured for {name} ({table}): run make bench-gpu, or give --steps")
    points = evidence_plan.measured_points(json.loads(table.read_text()), RECIPE, recipe.n_signal)
    return evidence_plan.plan(points, holds, args.minutes)


def say_plan(plan: evidence_plan.Plan, name: str, minutes: float) -> None:
    m1, m2 = plan.minutes()
    print(
        f"plan on {name}: batch {plan.batch} ({plan.why}); phase 1: {plan.phase_1} steps at "
        f"{plan.s_per_step[0]:.3f} s/step (~{m1:.1f} min), phase 2: {plan.max_steps - plan.phase_1} steps at "
        f"{plan.s_per_step[1]:.3f} s/step (~{m2:.1f} min) of a {minutes:g} min budget; a checkpoint kept every "
        f"{plan.save_every} steps ({plan.max_steps // plan.save_every} kept)",
        flush=True,
    )


def main(argv=None) -> int:
    args = parse(argv)
    kit, root = Path(args.kit), Path(args.root)
    if args.dry_run:
        return evidence.dry_run(args, kit)
    env = environment(kit)
    device, name = card() if args.device == "auto" else (args.device, args.device)
    out = Path(args.out) if args.out else REPO / "configs" / "measured" / f"{name}-evidence"
    recipe = recipes.load(RECIPE, root=root, n_signal=args.n_signal)
    steps = Steps(env, root)
    common = ["--root", root, "--n-signal", recipe.n_signal]
    if args.stage in ("all", "train"):
        raw = raw_recordings(kit, root)
        steps.run("preprocess", "rave_pipeline", "preprocess", RECIPE, *common, "--raw", raw)
        plan = decide(args, recipe, device, name, check_size(recipe, 1))
        say_plan(plan, name, args.minutes)
        train = ["--batch", plan.batch, "--max-steps", plan.max_steps, "--override", f"PHASE_1_DURATION={plan.phase_1}"]
        every = ["--val-every", plan.save_every, "--save-every", plan.save_every, "--device", device, "--fresh"]
        steps.run("train", "rave_pipeline", "train", RECIPE, *common, "--raw", raw, *train, *every)
        evidence.remember(root, plan, steps.walls, device, name)
    if args.stage in ("all", "measure"):
        steps.run("export", "rave_pipeline", "export", RECIPE, *common)
        steps.run("export-chaos", "rave_pipeline", "export-chaos", RECIPE, *common)
        jobs = ["--jobs", args.jobs]
        steps.run("timeline", "rave_to_chaos.timeline", RECIPE, *common, *jobs, "--out", root / "reports/timeline")
        models, inputs = evidence.compared(recipe)
        compare = ["--out", root / "reports/compare", "--seeds", args.seeds, "--inputs", *inputs]
        steps.run("compare", "compare", *models, *compare, *jobs)
        evidence.collect(root, recipe, out, steps.walls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
