"""Build reports/compare/: analyse every export and method (in parallel processes), write metrics.json,
the figures and clips, and the page (compare/page.py)."""

import json
from pathlib import Path

from audition.model_file import open_export
from audition.validate import validate
from compare import analyse, atlas, claims, clips, controls, family, latent, probes
from compare.clips import slug
from compare.figures import figure
from compare.page import HOMOGENISATION_TEXT, to_html
from safeio import UserError, atomic_write_text, warn
from safeio.database import chunks
from spec.host import DEFAULT_BUFFER

FAMILIES = ("trained", "hand-written", "hybrid")


def family_of(export) -> str:
    """From the manifest beside the export (written by make export-*), never from the file name."""
    kind = export.manifest.get("kind")
    return kind if kind in FAMILIES else "unknown"


def training_chunks(export) -> tuple[list | None, str]:
    """Chunks of the database a trained export's run read (its manifest says which), for its latent
    statistics; None when that database is not on this machine. -> (chunks, the database's path)."""
    db = export.manifest.get("trained_with", {}).get("db")
    try:
        return (chunks(Path(db), latent.DATA_CHUNKS, int(latent.SECONDS * probes.SR)) if db else None), str(db)
    except UserError as e:
        warn(f"{export.path.name}: latent statistics not measured ({e})")
        return None, str(db)


def audio_methods(export) -> tuple[list[str], list[str]]:
    ok, skipped = [], []
    for name, m in export.methods.items():
        (ok if m.in_ratio == 1 and m.out_ratio == 1 else skipped).append(name)
    return ok, skipped


def analyse_export(path: Path, inputs: dict, out_dir: Path) -> tuple[dict, list, dict | None]:
    """Everything the report needs from one export, which is read from disk once: the validation gate,
    every audio-rate method's measures, figure and clips, and its seed atlas if it is live.
    -> ({model:method: results}, [skipped], atlas or None)."""
    try:
        export = open_export(path)
        failures, _ = validate(export, buffers=[DEFAULT_BUFFER])
    except UserError as e:
        failures = [str(e)]
    if failures:
        warn(f"{path}: skipped, fails validation ({failures[0]})")
        return {}, [{"export": str(path), "why": failures[0]}], None
    ok, latent_rate = audio_methods(export)
    skipped = [
        {"export": f"{path.name}:{m}", "why": "latent-rate method (not audio to audio); forward covers it"}
        for m in latent_rate
    ]
    results = {}
    for method in ok:
        key, stem = f"{path.stem}:{method}", f"{path.stem}__{method}"
        r, arrays = analyse.analyse(export, method, inputs)
        r.update(
            {
                "family": family_of(export),
                "class": export.manifest.get("class", ""),
                "recipe": export.manifest.get("recipe"),
                "global_step": export.manifest.get("global_step"),
                "source_run": export.manifest.get("source_run"),
                "phase_1_duration": export.manifest.get("trained_with", {}).get("phase_1_duration"),
            }
        )
        if r["family"] == "hybrid":
            r.update({"finetune": export.manifest.get("finetune", {}), "parent": export.manifest.get("parent", "")})
        figure(out_dir / f"{stem}.png", key, r, arrays)
        r["figure"] = f"{stem}.png"
        r["clips"] = {
            name: clips.write(o, probes.SR, out_dir, f"{stem}__{slug(name)}") for name, o in arrays["outputs"].items()
        }
        r["osc_clips"] = {
            f"{'control ' + format(v, '.3g') if v is not None else 'no control'}, {what} input": clips.write(
                o, probes.SR, out_dir, f"{stem}__osc_{v}_{slug(what)}"
            )
            for v, pair in arrays["osc"].items()
            for what, o in pair.items()
        }
        results[key] = r
    if latent.has_latent(export) and family_of(export) == "trained" and f"{path.stem}:forward" in results:
        lat, lat_clips = latent.analyse(export, *training_chunks(export))
        lat["clips"] = {
            k: clips.write(o, probes.SR, out_dir, f"{path.stem}__latent_{slug(k)}") for k, o in lat_clips.items()
        }
        results[f"{path.stem}:forward"]["latent"] = lat
    first_input = next(iter(inputs.values()))[: probes.SR]
    seeds = atlas.atlas(export, first_input, probes.SR, out_dir) if ok and atlas.is_live(export) else None
    return results, skipped, seeds


def worker_setup() -> None:
    from audition.host import use_host_threads

    use_host_threads()


def run_tasks(tasks: dict, keys: list, jobs: int, progress: bool):
    """Each task's result, in the order of `keys`, whatever order the workers finish in (jobs > 1: that many
    processes). A generator: the pool is shut down once it is read to the end or closed."""
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn"), initializer=worker_setup
        )
        futures = {k: pool.submit(*task) for k, task in tasks.items()}
        outcome = lambda k: futures[k].result()
    else:
        pool, outcome = None, lambda k: tasks[k][0](*tasks[k][1:])
    done = (outcome(k) for k in keys)
    if progress:
        from tqdm import tqdm

        done = tqdm(done, total=len(keys), desc="compare", unit="model", disable=None)
    try:
        yield from zip(keys, done)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)


def neutone_file(export: Path) -> str | None:
    """Where make export-neutone put the export's Neutone FX model, if it did."""
    nm = export.parent / "neutone" / export.stem / "model.nm"
    return str(nm) if nm.exists() else None


def build(
    exports: list[Path], recordings: list[Path], out_dir: Path, progress: bool = True, jobs: int = 1, seeds: int = 0
) -> dict:
    """jobs > 1: that many processes, one export (or family member) each at a time; the numbers are the
    same, every render is seeded on its own. seeds > 0: also judge the claims over ChaosEffect's family
    (compare/family.py: that many seeds at the essay's w_mult, a quarter as many at each other usable one)."""
    if not exports:
        raise UserError("no exports to compare: run make export-chaos or make demo first (exports/ is empty)")
    out_dir.mkdir(parents=True, exist_ok=True)
    synthetic = probes.synthetic()
    inputs = {**probes.recordings(recordings), **synthetic}
    members = family.members(seeds) if seeds else []
    # the biggest files first (trained models take longest), so no worker is left with one at the end
    order = sorted(exports, key=lambda p: -p.stat().st_size if p.exists() else 0)
    tasks = {path: (analyse_export, path, inputs, out_dir) for path in order}
    tasks.update({m: (family.analyse_member, *m, synthetic) for m in members})
    results, skipped, seed_atlas, members_results = {}, [], [], {}
    for k, part in run_tasks(tasks, list(exports) + members, jobs, progress):
        if k in members:
            members_results.update(part)
            continue
        r, s, a = part
        results.update(r)
        skipped += s
        seed_atlas += [a] if a else []
    input_clips = {name: clips.write(x, probes.SR, out_dir, f"input__{slug(name)}") for name, x in inputs.items()}
    checks, heard = controls.judge(synthetic)
    for c in checks:
        c["clips"] = {
            role: clips.write(heard[c["id"], role], probes.SR, out_dir, f"control__{c['id']}_{role}")
            for role in ("holds", "fails")
        }
    rows = claims.judge(results)
    chaos_variants = claims.variants(rows, results)
    report = {
        "exports": [{"export": str(p), "neutone": neutone_file(p)} for p in exports],
        "inputs": list(inputs),
        "input_clips": input_clips,
        "models": results,
        "skipped": skipped,
        "claims": rows,
        "claim_summary": [
            {**c, "n_inputs": len(inputs), "variants": chaos_variants.get(c["id"], [])} for c in claims.summarise(rows)
        ],
        "family": {
            "seeds": seeds,
            "members": [list(m) for m in members],
            "claims": [{**c, "n_inputs": len(synthetic)} for c in family.judge(members_results)],
            "seconds": round(sum(r.pop("analysis_seconds") for r in members_results.values()), 1),
            "per_member": members_results,
        },
        "homogenisation_index_definition": HOMOGENISATION_TEXT,
        "seed_atlas": seed_atlas,
        "controls": checks,
    }
    numbers = {**report, "family": {k: v for k, v in report["family"].items() if k != "seconds"}}  # timing varies
    atomic_write_text(out_dir / "metrics.json", json.dumps(numbers, indent=1, default=float) + "\n")
    atomic_write_text(out_dir / "index.html", to_html(report))
    return report
