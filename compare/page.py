"""reports/compare/index.html from the report's numbers: claims, family, summary, A/B, seed atlas, figures.
Every value on the page comes from metrics.json's record; nothing is measured here."""

import html

import numpy as np

from compare import analyse, claims, clips
from compare.clips import slug

STYLE = """body{font-family:sans-serif;max-width:1000px;margin:auto;padding:0 8px}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}
table{border-collapse:collapse;display:block;overflow-x:auto}img{max-width:100%;height:auto}
.clips{display:flex;flex-wrap:wrap;gap:6px}.clip{margin:0}.clip audio{width:220px;max-width:100%}.clip figcaption{font-size:12px}
.warn{color:#b00}"""

HOMOGENISATION_TEXT = (
    "The homogenisation index of a model is the mean pairwise distance between the time-averaged "
    "log-mel spectra (64 bands, dB) of its outputs over the whole input set, divided by the same mean "
    "pairwise distance between the inputs. 1 means the model keeps the diversity of what it is fed "
    "(an identity or a plain filter); near 0 means every input comes out as one texture. Values above 1 "
    "mean the model spreads its inputs further apart."
)


def anchor(key: str) -> str:
    return "m-" + slug(key)


def run_line(r: dict) -> str:
    """Where a trained export's training logs are (make tensorboard serves them) and its step."""
    if not r.get("source_run"):
        return ""
    return (
        f"<p>Trained to step {r.get('global_step')} in <code>{html.escape(r['source_run'])}</code> "
        "(<code>make tensorboard</code> shows its logs).</p>"
    )


def evidence_links(row: dict) -> str:
    """Links from a verdict to the figures and clips of the models it rests on."""
    return "".join(f" <a href='#{anchor(k)}'>{html.escape(k)}</a>" for k in row["models"])


def claim_html(summary: dict, rows: list[dict], family_rows=()) -> str:
    """One row per claim; the per-model verdicts it rests on fold out beneath it; for a claim about
    ChaosEffect, how it fares over the family's instruments (next section) too."""
    e = html.escape
    over = "".join(
        f"<br><small><a href='#family'>family</a>, {e(scope)}: "
        + " &middot; ".join(
            f"{e(f['method'])} {e(f['verdict'])} {e(f['holds'].removeprefix('holds for '))}"
            for f in family_rows
            if f["scope"] == scope
        )
        + "</small>"
        for scope in dict.fromkeys(f["scope"] for f in family_rows)
    )
    effect = "-" if summary["effect"] is None else f"{summary['effect']:.3g}"
    if summary["interval"]:
        effect += f" [{summary['interval'][0]:.3g}, {summary['interval'][1]:.3g}]"
    detail = "".join(f"<li><b>{e(r['verdict'])}</b>: {e(r['evidence'])}{evidence_links(r)}</li>" for r in rows)
    if summary.get("variants"):
        over += f"<br><small>ChaosEffect variants counted: {e(', '.join(summary['variants']))}</small>"
    return (
        f"<tr><td>{e(summary['claim'])}<details><summary>{summary['n_rows']} measurement(s)</summary><ul>{detail}</ul>"
        f"</details></td><td><b>{e(summary['verdict'])}</b><br><small>{e(summary['holds'])}</small>{over}</td>"
        f"<td>{e(effect)} <small>{e(summary['unit'])}</small></td><td>{summary['n_models']} / "
        f"{summary['n_inputs']}</td></tr>"
    )


def controls_html(report: dict) -> str:
    """How we know each detector works: each claim on a model built to make it hold and one built to make it fail."""
    e = html.escape

    def cell(c, role):
        effect = c[f"effect_{role}"]
        effect = "-" if effect is None else f"{effect:.3g}"
        return (
            f"<td>{e(c[f'{role}_for'])}: <b>{e(c[f'verdict_{role}'])}</b> <small>(effect {effect})</small>"
            f"{clips.player(c['clips'][role], c[f'{role}_for'])}</td>"
        )

    rows = "".join(
        f"<tr><td>{e(c['id'])}</td>{cell(c, 'holds')}{cell(c, 'fails')}</tr>" for c in report.get("controls", [])
    )
    return (
        "<h2 id='controls'>How we know each detector works</h2><p>Each claim judged, by the same analysis and rules "
        "as every export, on a model built so that it holds and one built so that it fails "
        "(compare/controls.py). A claim whose pair does not come out supported / refuted has a detector that "
        "cannot see what the claim says.</p><table><tr><th>claim</th><th>must hold for</th><th>must fail for</th>"
        f"</tr>{rows}</table>"
    )


def ab_html(report: dict) -> str:
    """Trained against hand-written on the same input: the first recording through every model."""
    e = html.escape
    first = report["inputs"][0]
    rows = "".join(
        f"<tr><td><a href='#{anchor(k)}'>{e(k)}</a></td><td>{e(r['family'])}</td><td>{clips.player(r['clips'][first], first)}</td></tr>"
        for fam in ("trained", "hybrid", "hand-written", "unknown")
        for k, r in report["models"].items()
        if r["family"] == fam
    )
    return (
        f"<h2>A/B: the same input through every "
        f"model</h2>{clips.player(report['input_clips'][first], f'input: {first}')}"
        f"<table><tr><th>model:method</th><th>family</th><th>output</th></tr>{rows}</table>"
        f"<p>Every input, as played into the models:</p><div class='clips'>"
        f"{''.join(clips.player(c, n) for n, c in report['input_clips'].items())}</div>"
    )


def family_html(report: dict) -> str:
    """The claims about ChaosEffect over many of its instruments (seeds and w_mults), not one draw."""
    fam = report.get("family", {})
    if not fam.get("claims"):
        return ""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c['claim'])}</td><td>{e(c['method'])}</td><td>{e(c['scope'])}</td><td><b>{e(c['verdict'])}</b><br>"
        f"<small>{e(c['holds'])} "
        f"instruments</small></td><td>{'-' if c['effect'] is None else format(c['effect'], '.3g')}"
        f"{'' if not c['interval'] else ' [' + format(c['interval'][0], '.3g') + ', ' + format(c['interval'][1], '.3g') + ']'}"
        f" <small>{e(c['unit'])}</small></td></tr>"
        for c in fam["claims"]
    )
    return (
        f"<h2 id='family'>The claims over ChaosEffect's family</h2><p>One seed is one random network. Here the "
        f"essay's ChaosEffect "
        f"(14 operators) is rebuilt from seeds 0-{fam['seeds'] - 1} at the essay's w_mult 2 and from a quarter as many "
        f"at each other usable w_mult (1-4), {len(fam['members'])} instruments, each analysed like an export on the "
        f"{fam['claims'][0]['n_inputs']} synthetic probes ({fam['seconds']:.0f} s of analysis); each claim is "
        f"judged per instrument and method. Effect: median over the instruments with a "
        f"95 % bootstrap interval.</p><table><tr><th>claim</th><th>method</th><th>instruments</th><th>verdict</th>"
        f"<th>effect [95 % interval]</th></tr>{rows}</table>"
    )


def seed_atlas_html(report: dict) -> str:
    """One live export's seeds side by side: spread table, figure, clips of the first seeds."""
    e, parts = html.escape, []
    for a in report.get("seed_atlas", []):
        parts.append(
            f"<h2>Seed atlas: {e(a['export'])}</h2><p>The first input (1 s) through seeds 0-{a['seeds'] - 1}, "
            "seed set as a host attribute before each render, controls at their nominal values.</p>"
            f"<img src='{e(a['figure'])}' width='960'>"
        )
        for method, r in a["methods"].items():
            cells = "".join(
                f"<td>{v['min']:.3g} / {v['median']:.3g} / {v['max']:.3g}</td>" for v in r["spread"].values()
            )
            players = "".join(clips.player(c, f"seed {i}") for i, c in enumerate(r["clips"]))
            parts.append(
                f"<h3>{e(method)}</h3><table><tr>{''.join(f'<th>{e(f)} (min / median / max)</th>' for f in r['spread'])}"
                f"<th>timbre spread dB</th></tr><tr>{cells}<td>{r['timbre_spread_db']:.1f}</td></tr></table>"
                f"<div class='clips'>{players}</div>"
            )
    return "".join(parts)


def latent_html(r: dict) -> str:
    """A trained model's decoded random latent codes (compare/latent.py), with their measured diversity."""
    lat = r.get("latent")
    if not lat:
        return ""
    ratio = lat.get("diversity_ratio")
    said = (
        f"they vary {ratio:.2f}x as much as {lat['data_chunks']} chunks of its training data (log-mel distance)"
        if ratio is not None
        else "its training data is not here, so their diversity is not measured"
    )
    return (
        f"<p>Decoded from random latent codes ({lat['latent_size']} dimensions, {lat['seconds']:.0f} s each); "
        f"{said}:</p>"
        f"<div class='clips'>{''.join(clips.player(c, name) for name, c in lat['clips'].items())}</div>"
    )


def summary_rows(report: dict) -> str:
    """One row per model and method: the numbers the claims rest on, side by side."""
    e = html.escape
    return "".join(
        f"<tr><td>{e(k)}</td><td>{e(r['family'])}</td><td>{r['homogenisation_index']:.2f}</td>"
        f"<td>{r['mean_rms_db']:.1f}</td><td>{np.mean([d['centroid_hz'] for d in r['per_input'].values()]):.0f}</td>"
        f"<td>{np.mean([d['flatness'] for d in r['per_input'].values()]):.2f}</td>"
        f"<td>{np.mean([d['crest_factor'] for d in r['per_input'].values()]):.1f}</td>"
        f"<td>{r['self_oscillation']['threshold'] if r['self_oscillation']['threshold'] is not None else '-'}</td>"
        f"<td>{', '.join(f'{m:.0f}' for m in r['resonant_modes_hz'][:5]) or '-'}</td>"
        f"<td>{'-' if r['buffer_edge_artifact_db'] is None else round(r['buffer_edge_artifact_db'])}</td></tr>"
        for k, r in report["models"].items()
    )


def to_html(report: dict) -> str:
    e = html.escape
    rows = summary_rows(report)
    family_claims = report.get("family", {}).get("claims", [])
    claims_html = "".join(
        claim_html(
            c, [r for r in report["claims"] if r["id"] == c["id"]], [f for f in family_claims if f["id"] == c["id"]]
        )
        for c in report["claim_summary"]
    )
    skipped = "".join(f"<li>{e(s['export'])}: {e(s['why'])}</li>" for s in report["skipped"]) or "<li>none</li>"
    figs = "".join(
        f"<section id='{anchor(k)}'><h3>{e(k)}</h3>{run_line(r)}<img src='{e(r['figure'])}' alt='{e(k)} figures'>"
        f"<div class='clips'>{''.join(clips.player(c, name) for name, c in r['clips'].items())}</div>"
        f"<p>Self-oscillation map, heard at three control values (0.5 s each):</p>"
        f"<div class='clips'>{''.join(clips.player(c, name) for name, c in r['osc_clips'].items())}</div>{latent_html(r)}</section>"
        for k, r in report["models"].items()
    )
    per_input = "".join(
        f"<tr><td>{e(k)}</td><td>{e(name)}</td><td>{d['rms_db']:.1f}</td><td>{d['centroid_hz']:.0f}</td>"
        f"<td>{d['bandwidth_hz']:.0f}</td><td>{d['flatness']:.2f}</td><td>{d['crest_factor']:.1f}</td></tr>"
        for k, r in report["models"].items()
        for name, d in r["per_input"].items()
    )
    return f"""<!doctype html><meta charset="utf-8"><title>Trained vs hand-written instruments</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style>
<h1>Trained vs hand-written instruments</h1>
<p>Every method of every export was run block by block as nn~ runs it (buffer {analyse.BUFFER}, latency removed, torch seed 0)
on the same inputs: {e(", ".join(report["inputs"]))}. Controls of multi-inlet methods sit a quarter into their documented range.</p>
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
{controls_html(report)}
<h2>Summary</h2><table><tr><th>model:method</th><th>family</th><th>homogenisation</th><th>RMS dBFS</th><th>centroid Hz</th>
<th>flatness</th><th>crest</th><th>self-osc threshold</th><th>resonant modes Hz</th><th>buffer-edge artifact dB</th></tr>{rows}</table>
<h2>Homogenisation index</h2><p>{e(report["homogenisation_index_definition"])}</p>
{ab_html(report)}
{seed_atlas_html(report)}
<h2>Exports</h2><ul>{"".join(f"<li>{e(x['export'])} · Neutone FX: {e(x['neutone'] or 'none yet (make export-neutone)')}</li>" for x in report.get("exports", []))}</ul>
<h2>Skipped</h2><ul>{skipped}</ul>
<h2>Unknown family</h2><p>Exports without a manifest (.json beside the .ts) are analysed but join no family's claims:
{e(", ".join(sorted({k.split(":")[0] for k, r in report["models"].items() if r["family"] == "unknown"})) or "none")}.</p>
<h2>Figures</h2>{figs}
<h2>Per input</h2><table><tr><th>model:method</th><th>input</th><th>RMS dBFS</th><th>centroid</th><th>bandwidth</th><th>flatness</th><th>crest</th></tr>{per_input}</table>
"""
