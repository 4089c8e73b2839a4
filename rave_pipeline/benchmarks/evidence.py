"""The files of `make gpu-evidence` (scripts/gpu_evidence.py): what its dry run prints, what training
leaves for the measuring stage, and the evidence folder it writes (small enough to commit: clips are
compare's 64 kbit/s MP3s, at most MAX_BYTES in all, written beside the folder and moved in whole)."""

import json
import shutil
from pathlib import Path

from safeio import UserError, atomic_write_text
from spec import names
from spec.instruments import ESSAY_EXPORTS

MAX_BYTES = 3_000_000
# what a GPU machine with its own torch lacks (make gpu-kit carries them at this venv's versions)
CARRIED = [
    "acids-rave",
    "pytorch-lightning",
    "cached-conv",
    "nn-tilde",
    "gin-config",
    "udls",
    "lmdb",
    "soundfile",
    "cffi",  # soundfile's binding (the image has none)
    "pycparser",
    "librosa",
    "audioread",  # librosa's, missing from the image
    "decorator",
    "soxr",
    "pooch",
    "platformdirs",
]
SDIST_ONLY = ["GPUtil"]  # built into a wheel by make gpu-kit
FFMPEG = "imageio-ffmpeg==0.5.1"  # its static ffmpeg 4.2.2 with the MP3 encoder, 27 MB; later ones carry a 68 MB binary
TRAINED = "evidence-train.json"  # in the work folder: the plan and the training's wall times


def dry_run(args, kit: Path) -> int:
    wheels = sorted(p.name for p in (kit / "wheels").glob("*.whl")) if (kit / "wheels").is_dir() else []
    data = sorted(p.name for p in (kit / "data" / "noise").glob("*")) if (kit / "data").is_dir() else []
    size = sum(p.stat().st_size for p in kit.rglob("*") if p.is_file() and "site" not in p.parts) if kit.is_dir() else 0
    print(f"gpu-evidence, dry run: a {args.minutes:g} min training budget on {args.device}")
    print("  1. preprocess the noise recordings; 2. choose batch and steps from configs/measured/<card>.json")
    print("  3. rave train through both phases (PHASE_1_DURATION, MAX_STEPS, SAVE_EVERY from the plan)")
    print("  4. export the newest checkpoint and the essay's instruments; 5. the timeline of every kept checkpoint")
    print(f"  6. compare (the trained export, the essay's, {args.seeds} ChaosEffect seeds), {args.jobs} processes")
    print("  7. write the evidence folder (configs/measured/<card>-evidence, under 3 MB)")
    print(f"kit {kit}: {len(wheels)} wheels, {len(data)} recordings, {size / 1e6:.1f} MB (make gpu-kit gathers it)")
    print(f"  needs wheels of: {', '.join(CARRIED + SDIST_ONLY)}, {FFMPEG}")
    for w in wheels:
        print(f"  {w}")
    return 0


def remember(root: Path, plan, walls: dict, device: str, card: str) -> None:
    import platform

    import torch

    record = {
        "card": card,
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "plan": {**plan.__dict__, "minutes_per_phase": [round(m, 2) for m in plan.minutes()]},
        "walls_s": walls,
    }
    atomic_write_text(root / TRAINED, json.dumps(record, indent=1) + "\n")


def compared(recipe) -> tuple[list[Path], list[Path]]:
    """(the trained export and the essay's hand-written ones, two of the recordings it trained on)."""
    folder = recipe.export_path.parent
    models = [recipe.export_path] + [
        folder / names.hand_written(m, hp["operators"], hp["w_mult"]) for m, hp in ESSAY_EXPORTS
    ]
    sources = json.loads((recipe.db_dir / "sources.json").read_text())
    return models, [Path(s["source"]) for s in sources[:2]]


def trained_progress(recipe) -> dict:
    found = sorted(recipe.runs_dir.glob("*/version_*/progress.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(found[-1].read_text()) if found else {}


def clips(timeline: Path, report: dict, into: Path) -> list[str]:
    """An input, the model at the first, a middle and the last checkpoint on it, and two of the last
    checkpoint's random-latent clips: six MP3s named for what they are."""
    first, done = report["inputs"][0], report["checkpoints"]
    picks = {"input.mp3": report["input_clips"][first]["src"]}
    for label, c in zip(("early", "middle", "last"), (done[0], done[len(done) // 2], done[-1])):
        picks[f"{label}-step{c['step']}-phase{c['phase']}.mp3"] = c["clips"][first]["src"]
    for kind, src in list(done[-1]["latent_clips"].items())[:2]:
        slug = "".join(ch if ch.isalnum() else "-" for ch in kind).strip("-").lower()
        picks[f"last-latent-{slug}.mp3"] = src["src"]
    for name, src in picks.items():
        shutil.copy(timeline / src, into / name)
    return list(picks)


def collect(root: Path, recipe, out: Path, walls: dict) -> Path:
    timeline, compare = root / "reports/timeline", root / "reports/compare"
    report = json.loads((timeline / "metrics.json").read_text())
    compared_report = json.loads((compare / "metrics.json").read_text())
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy(timeline / "metrics.json", staging / "timeline-metrics.json")
    shutil.copy(timeline / "curves.png", staging / "curves.png")
    written = clips(timeline, report, staging)
    trained = json.loads((root / TRAINED).read_text()) if (root / TRAINED).is_file() else {}
    claims = claim_rows(compared_report, recipe.export_path.name)
    evidence = {**trained, "walls_s": {**trained.get("walls_s", {}), **walls}, "progress": trained_progress(recipe)}
    evidence |= {"clips": written, "checkpoints": [(c["step"], c["phase"]) for c in report["checkpoints"]]}
    atomic_write_text(staging / "claims.json", json.dumps(claims, indent=1) + "\n")
    atomic_write_text(staging / "evidence.json", json.dumps(evidence, indent=1, default=str) + "\n")
    size = sum(p.stat().st_size for p in staging.iterdir())
    if size > MAX_BYTES:
        raise UserError(f"{staging}: the evidence takes {size / 1e6:.1f} MB, over {MAX_BYTES / 1e6:.0f} MB; not kept")
    shutil.rmtree(out, ignore_errors=True)
    staging.replace(out)
    print(f"evidence: {out} ({size / 1e6:.2f} MB: {', '.join(sorted(p.name for p in out.iterdir()))})")
    return out


def claim_rows(report: dict, trained_name: str) -> dict:
    """compare's verdict per claim over every model, and the rows judged on the trained export alone."""
    stem = trained_name.removesuffix(names.TRAINED_SUFFIX)
    return {
        "summary": [
            {k: c.get(k) for k in ("id", "claim", "verdict", "holds", "effect")} for c in report["claim_summary"]
        ],
        "trained": [
            {k: r.get(k) for k in ("id", "verdict", "evidence", "effect", "unit")}
            for r in report["claims"]
            if any(stem in m for m in r.get("models", []))
        ],
    }
