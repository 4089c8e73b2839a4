"""Build reports/compare/: index.html, metrics.json and PNG figures for every export and method."""
import html
import json
import math
from pathlib import Path

import numpy as np

from audition.model_file import open_export
from audition.validate import validate
from compare import analyse, atlas, claims, clips, family, probes
from safeio import UserError, atomic_write_text, warn

HOMOGENISATION_TEXT = (
    "The homogenisation index of a model is the mean pairwise distance between the time-averaged "
    "log-mel spectra (64 bands, dB) of its outputs over the whole input set, divided by the same mean "
    "pairwise distance between the inputs. 1 means the model keeps the diversity of what it is fed "
    "(an identity or a plain filter); near 0 means every input comes out as one texture. Values above 1 "
    "mean the model spreads its inputs further apart.")


FAMILIES = ("trained", "hand-written", "hybrid")


def family_of(export) -> str:
    """From the manifest beside the export (written by make export-*), never from the file name."""
    kind = export.manifest.get("kind")
    return kind if kind in FAMILIES else "unknown"


def audio_methods(export) -> tuple[list[str], list[str]]:
    ok, skipped = [], []
    for name, m in export.methods.items():
        (ok if m.in_ratio == 1 and m.out_ratio == 1 else skipped).append(name)
    return ok, skipped


def figure(path: Path, title: str, result: dict, arrays: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sr = arrays["sr"]
    fig, ax = plt.subplots(2, 2, figsize=(12, 7.5))
    y = np.concatenate([o for o in arrays["outputs"].values()])
    ax[0, 0].specgram(y + 1e-9, NFFT=1024, Fs=sr, noverlap=512, cmap="magma", vmin=-140)
    ax[0, 0].set(title="output spectrogram (recordings, then probes)", xlabel="s", ylabel="Hz")
    for level, rows in result["frequency_response"].items():
        f = [r["freq_hz"] for r in rows]
        line, = ax[0, 1].semilogx(f, [r["gain_db"] for r in rows], label=f"{level} dBFS")
        ax[0, 1].semilogx(f, [20 * math.log10(max(r["thd"], 1e-6)) for r in rows], "--", color=line.get_color(), alpha=0.5)
    ax[0, 1].set(title="gain (solid) and THD (dashed) vs frequency", xlabel="Hz", ylabel="dB")
    ax[0, 1].legend(fontsize=8)
    ir = arrays["ir"][: int(0.02 * sr) + 64]
    ax[1, 0].plot((np.arange(len(ir)) - 64) * 1000 / sr, ir)
    ax[1, 0].set(title="impulse response (click minus silence, same seed)", xlabel="ms")
    osc = result["self_oscillation"]
    if osc["values"]:
        ax[1, 1].plot(osc["values"], osc["silent_input_db"], "o-", label="silent input")
        ax[1, 1].plot(osc["values"], osc["sine_input_db"], "s-", label="220 Hz sine input")
        if osc["threshold"] is not None:
            ax[1, 1].axvline(osc["threshold"], color="red", ls=":", label=f"threshold {osc['threshold']:.1f}")
        ax[1, 1].axhline(analyse.SILENT_DB, color="grey", lw=0.5)
        ax[1, 1].set(title=f"self-oscillation map: {osc['inlet']}", xlabel="control value", ylabel="AC level dBFS")
        ax[1, 1].legend(fontsize=8)
    else:
        ax[1, 1].text(0.5, 0.5, f"no control inlet\nsilent-input level {osc['silent_input_db'][0]:.1f} dBFS",
                      ha="center", va="center")
        ax[1, 1].set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def analyse_export(path: Path, inputs: dict, out_dir: Path) -> tuple[dict, list, dict | None]:
    """Everything the report needs from one export, which is read from disk once: the validation gate,
    every audio-rate method's measures, figure and clips, and its seed atlas if it is live.
    -> ({model:method: results}, [skipped], atlas or None)."""
    try:
        export = open_export(path)
        failures, _ = validate(export, buffers=[2048])
    except UserError as e:
        failures = [str(e)]
    if failures:
        warn(f"{path}: skipped, fails validation ({failures[0]})")
        return {}, [{"export": str(path), "why": failures[0]}], None
    ok, latent = audio_methods(export)
    skipped = [{"export": f"{path.name}:{m}", "why": "latent-rate method (not audio to audio); forward covers it"}
               for m in latent]
    results = {}
    for method in ok:
        key, stem = f"{path.stem}:{method}", f"{path.stem}__{method}"
        r, arrays = analyse.analyse(export, method, inputs)
        r.update({"family": family_of(export), "class": export.manifest.get("class", ""),
                  "recipe": export.manifest.get("recipe"), "global_step": export.manifest.get("global_step"),
                  "source_run": export.manifest.get("source_run"),
                  "phase_1_duration": export.manifest.get("trained_with", {}).get("phase_1_duration")})
        if r["family"] == "hybrid":
            r.update({"finetune": export.manifest.get("finetune", {}), "parent": export.manifest.get("parent", "")})
        figure(out_dir / f"{stem}.png", key, r, arrays)
        r["figure"] = f"{stem}.png"
        r["clips"] = {name: clips.write(o, probes.SR, out_dir, f"{stem}__{slug(name)}") for name, o in arrays["outputs"].items()}
        r["osc_clips"] = {f"{'control ' + format(v, '.3g') if v is not None else 'no control'}, {what} input":
                          clips.write(o, probes.SR, out_dir, f"{stem}__osc_{v}_{slug(what)}")
                          for v, pair in arrays["osc"].items() for what, o in pair.items()}
        results[key] = r
    first_input = next(iter(inputs.values()))[: probes.SR]
    seeds = atlas.atlas(export, first_input, probes.SR, out_dir) if ok and atlas.is_live(export) else None
    return results, skipped, seeds


def worker_setup() -> None:
    from audition.host import use_host_threads
    use_host_threads()


def build(exports: list[Path], recordings: list[Path], out_dir: Path, progress: bool = True, jobs: int = 1,
          seeds: int = 0) -> dict:
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
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        pool = ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn"),
                                   initializer=worker_setup)
        futures = {k: pool.submit(*task) for k, task in tasks.items()}
        outcome = lambda k: futures[k].result()
    else:
        pool, outcome = None, lambda k: tasks[k][0](*tasks[k][1:])
    keys = list(exports) + members      # results in the order given, whatever order the workers finish in
    done = (outcome(k) for k in keys)
    if progress:
        from tqdm import tqdm
        done = tqdm(done, total=len(keys), desc="compare", unit="model", disable=None)
    results, skipped, seed_atlas, members_results = {}, [], [], {}
    try:
        for k, part in zip(keys, done):
            if k in members:
                members_results.update(part)
                continue
            r, s, a = part
            results.update(r)
            skipped += s
            seed_atlas += [a] if a else []
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    input_clips = {name: clips.write(x, probes.SR, out_dir, f"input__{slug(name)}") for name, x in inputs.items()}
    rows = claims.judge(results)
    report = {"inputs": list(inputs), "input_clips": input_clips, "models": results, "skipped": skipped,
              "claims": rows, "claim_summary": [{**c, "n_inputs": len(inputs)} for c in claims.summarise(rows)],
              "family": {"seeds": seeds, "members": [list(m) for m in members],
                         "claims": [{**c, "n_inputs": len(synthetic)} for c in family.judge(members_results)],
                         "seconds": round(sum(r.pop("analysis_seconds") for r in members_results.values()), 1),
                         "per_member": members_results},
              "homogenisation_index_definition": HOMOGENISATION_TEXT, "seed_atlas": seed_atlas}
    numbers = {**report, "family": {k: v for k, v in report["family"].items() if k != "seconds"}}   # timing varies
    atomic_write_text(out_dir / "metrics.json", json.dumps(numbers, indent=1, default=float) + "\n")
    atomic_write_text(out_dir / "index.html", to_html(report))
    return report


def anchor(key: str) -> str:
    return "m-" + slug(key)


def run_line(r: dict) -> str:
    """Where a trained export's training logs are (make tensorboard serves them) and its step."""
    if not r.get("source_run"):
        return ""
    return (f"<p>Trained to step {r.get('global_step')} in <code>{html.escape(r['source_run'])}</code> "
            "(<code>make tensorboard</code> shows its logs).</p>")


def evidence_links(row: dict) -> str:
    """Links from a verdict to the figures and clips of the models it rests on."""
    return "".join(f" <a href='#{anchor(k)}'>{html.escape(k)}</a>" for k in row["models"])


def claim_html(summary: dict, rows: list[dict], family_rows=()) -> str:
    """One row per claim; the per-model verdicts it rests on fold out beneath it; for a claim about
    ChaosEffect, how it fares over the family's instruments (next section) too."""
    e = html.escape
    over = "".join(
        f"<br><small><a href='#family'>family</a>, {e(scope)}: "
        + " &middot; ".join(f"{e(f['method'])} {e(f['verdict'])} {e(f['holds'].removeprefix('holds for '))}"
                            for f in family_rows if f["scope"] == scope) + "</small>"
        for scope in dict.fromkeys(f["scope"] for f in family_rows))
    effect = "-" if summary["effect"] is None else f"{summary['effect']:.3g}"
    if summary["interval"]:
        effect += f" [{summary['interval'][0]:.3g}, {summary['interval'][1]:.3g}]"
    detail = "".join(f"<li><b>{e(r['verdict'])}</b>: {e(r['evidence'])}{evidence_links(r)}</li>" for r in rows)
    return (f"<tr><td>{e(summary['claim'])}<details><summary>{summary['n_rows']} measurement(s)</summary><ul>{detail}</ul>"
            f"</details></td><td><b>{e(summary['verdict'])}</b><br><small>{e(summary['holds'])}</small>{over}</td>"
            f"<td>{e(effect)} <small>{e(summary['unit'])}</small></td><td>{summary['n_models']} / {summary['n_inputs']}</td></tr>")


def ab_html(report: dict) -> str:
    """Trained against hand-written on the same input: the first recording through every model."""
    e = html.escape
    first = report["inputs"][0]
    rows = "".join(
        f"<tr><td><a href='#{anchor(k)}'>{e(k)}</a></td><td>{e(r['family'])}</td><td>{clips.player(r['clips'][first], first)}</td></tr>"
        for fam in ("trained", "hybrid", "hand-written", "unknown") for k, r in report["models"].items() if r["family"] == fam)
    return (f"<h2>A/B: the same input through every model</h2>{clips.player(report['input_clips'][first], f'input: {first}')}"
            f"<table><tr><th>model:method</th><th>family</th><th>output</th></tr>{rows}</table>"
            f"<p>Every input, as played into the models:</p><div class='clips'>"
            f"{''.join(clips.player(c, n) for n, c in report['input_clips'].items())}</div>")


def family_html(report: dict) -> str:
    """The claims about ChaosEffect over many of its instruments (seeds and w_mults), not one draw."""
    fam = report.get("family", {})
    if not fam.get("claims"):
        return ""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c['claim'])}</td><td>{e(c['method'])}</td><td>{e(c['scope'])}</td><td><b>{e(c['verdict'])}</b><br>"
        f"<small>{e(c['holds'])} instruments</small></td><td>{'-' if c['effect'] is None else format(c['effect'], '.3g')}"
        f"{'' if not c['interval'] else ' [' + format(c['interval'][0], '.3g') + ', ' + format(c['interval'][1], '.3g') + ']'}"
        f" <small>{e(c['unit'])}</small></td></tr>" for c in fam["claims"])
    return (f"<h2 id='family'>The claims over ChaosEffect's family</h2><p>One seed is one random network. Here the essay's ChaosEffect "
            f"(14 operators) is rebuilt from seeds 0-{fam['seeds'] - 1} at the essay's w_mult 2 and from a quarter as many "
            f"at each other usable w_mult (1-4), {len(fam['members'])} instruments, each analysed like an export on the "
            f"{fam['claims'][0]['n_inputs']} synthetic probes ({fam['seconds']:.0f} s of analysis); each claim is judged per instrument and method. Effect: median over the instruments with a "
            f"95 % bootstrap interval.</p><table><tr><th>claim</th><th>method</th><th>instruments</th><th>verdict</th>"
            f"<th>effect [95 % interval]</th></tr>{rows}</table>")


def slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in str(name))


def seed_atlas_html(report: dict) -> str:
    """One live export's seeds side by side: spread table, figure, clips of the first seeds."""
    e, parts = html.escape, []
    for a in report.get("seed_atlas", []):
        parts.append(f"<h2>Seed atlas: {e(a['export'])}</h2><p>The first input (1 s) through seeds 0-{a['seeds'] - 1}, "
                     "seed set as a host attribute before each render, controls at their nominal values.</p>"
                     f"<img src='{e(a['figure'])}' width='960'>")
        for method, r in a["methods"].items():
            cells = "".join(f"<td>{v['min']:.3g} / {v['median']:.3g} / {v['max']:.3g}</td>" for v in r["spread"].values())
            players = "".join(clips.player(c, f"seed {i}") for i, c in enumerate(r["clips"]))
            parts.append(f"<h3>{e(method)}</h3><table><tr>{''.join(f'<th>{e(f)} (min / median / max)</th>' for f in r['spread'])}"
                         f"<th>timbre spread dB</th></tr><tr>{cells}<td>{r['timbre_spread_db']:.1f}</td></tr></table>"
                         f"<div class='clips'>{players}</div>")
    return "".join(parts)


def to_html(report: dict) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(k)}</td><td>{e(r['family'])}</td><td>{r['homogenisation_index']:.2f}</td>"
        f"<td>{r['mean_rms_db']:.1f}</td><td>{np.mean([d['centroid_hz'] for d in r['per_input'].values()]):.0f}</td>"
        f"<td>{np.mean([d['flatness'] for d in r['per_input'].values()]):.2f}</td>"
        f"<td>{np.mean([d['crest_factor'] for d in r['per_input'].values()]):.1f}</td>"
        f"<td>{r['self_oscillation']['threshold'] if r['self_oscillation']['threshold'] is not None else '-'}</td>"
        f"<td>{', '.join(f'{m:.0f}' for m in r['resonant_modes_hz'][:5]) or '-'}</td>"
        f"<td>{'-' if r['buffer_edge_artifact_db'] is None else round(r['buffer_edge_artifact_db'])}</td></tr>"
        for k, r in report["models"].items())
    family_claims = report.get("family", {}).get("claims", [])
    claims_html = "".join(claim_html(c, [r for r in report["claims"] if r["id"] == c["id"]],
                                     [f for f in family_claims if f["id"] == c["id"]])
                          for c in report["claim_summary"])
    skipped = "".join(f"<li>{e(s['export'])}: {e(s['why'])}</li>" for s in report["skipped"]) or "<li>none</li>"
    figs = "".join(
        f"<section id='{anchor(k)}'><h3>{e(k)}</h3>{run_line(r)}<img src='{e(r['figure'])}' alt='{e(k)} figures'>"
        f"<div class='clips'>{''.join(clips.player(c, name) for name, c in r['clips'].items())}</div>"
        f"<p>Self-oscillation map, heard at three control values (0.5 s each):</p>"
        f"<div class='clips'>{''.join(clips.player(c, name) for name, c in r['osc_clips'].items())}</div></section>"
        for k, r in report["models"].items())
    per_input = "".join(
        f"<tr><td>{e(k)}</td><td>{e(name)}</td><td>{d['rms_db']:.1f}</td><td>{d['centroid_hz']:.0f}</td>"
        f"<td>{d['bandwidth_hz']:.0f}</td><td>{d['flatness']:.2f}</td><td>{d['crest_factor']:.1f}</td></tr>"
        for k, r in report["models"].items() for name, d in r["per_input"].items())
    return f"""<!doctype html><meta charset="utf-8"><title>Trained vs hand-written instruments</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:1000px;margin:auto;padding:0 8px}}td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px}}
table{{border-collapse:collapse;display:block;overflow-x:auto}}img{{max-width:100%;height:auto}}
.clips{{display:flex;flex-wrap:wrap;gap:6px}}.clip{{margin:0}}.clip audio{{width:220px;max-width:100%}}.clip figcaption{{font-size:12px}}
.warn{{color:#b00}}</style>
<h1>Trained vs hand-written instruments</h1>
<p>Every method of every export was run block by block as nn~ runs it (buffer {analyse.BUFFER}, latency removed, torch seed 0)
on the same inputs: {e(', '.join(report['inputs']))}. Controls of multi-inlet methods sit a quarter into their documented range.</p>
<p>Every clip plays at {clips.TARGET_RMS_DB:.0f} dBFS RMS (or quieter, where its peak would pass {clips.PEAK_CEILING}),
so that louder is not mistaken for better; the level the model produced is printed beside it, &#9888; marks a
clip whose model output passed full scale (clipped) or stayed under {clips.SILENT_BELOW_DB:.0f} dBFS (silent, not raised).
First {clips.MAX_SECONDS:.0f} s of each render, MP3 {clips.BITRATE}bit/s.</p>
<h2>The essay's claims</h2><p>One row per claim, judged on every model it applies to: the verdict holds for a claim
when at least {100 * claims.HOLDS_FROM:.0f} % of the decisive per-model verdicts agree (else partly); the effect is the median over
those models with a 95 % percentile-bootstrap interval ({claims.BOOTSTRAP} resamples, seed 0). Unfold a row for each model's measurement,
linked to its figures and clips.</p>
<table><tr><th>claim</th><th>verdict</th><th>effect [95 % interval]</th><th>models / inputs</th></tr>{claims_html}</table>
{family_html(report)}
<h2>Summary</h2><table><tr><th>model:method</th><th>family</th><th>homogenisation</th><th>RMS dBFS</th><th>centroid Hz</th>
<th>flatness</th><th>crest</th><th>self-osc threshold</th><th>resonant modes Hz</th><th>buffer-edge artifact dB</th></tr>{rows}</table>
<h2>Homogenisation index</h2><p>{e(report['homogenisation_index_definition'])}</p>
{ab_html(report)}
{seed_atlas_html(report)}
<h2>Skipped</h2><ul>{skipped}</ul>
<h2>Unknown family</h2><p>Exports without a manifest (.json beside the .ts) are analysed but join no family's claims:
{e(', '.join(sorted({k.split(':')[0] for k, r in report['models'].items() if r['family'] == 'unknown'})) or 'none')}.</p>
<h2>Figures</h2>{figs}
<h2>Per input</h2><table><tr><th>model:method</th><th>input</th><th>RMS dBFS</th><th>centroid</th><th>bandwidth</th><th>flatness</th><th>crest</th></tr>{per_input}</table>
"""
