"""<ROOT>/reports/timeline-<run>/index.html from the timeline's numbers (compare/timeline.py): the curves
against the step, an A/B strip of one input across every checkpoint, and every checkpoint's clips."""

import html

from compare import clips
from compare.page import STYLE


def fmt(v, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec)


def to_html(report: dict) -> str:
    e = html.escape
    cps = report["checkpoints"]
    first = report["inputs"][0]
    strip = "".join(clips.player(c["clips"][first], f"step {c['step']} (phase {c['phase']})") for c in cps)
    rows = "".join(
        f"<tr><td>{c['step']}</td><td>{c['phase']}</td><td>{fmt(c['metrics']['validation'])}</td>"
        f"<td>{fmt(c['metrics']['reconstruction'])}</td><td>{fmt(c['metrics']['homogenisation_index'], '.2f')}</td>"
        f"<td>{c['metrics']['modes_count']}</td><td>{fmt(c['metrics']['strongest_mode_db'], '.1f')}</td>"
        f"<td>{fmt(c['metrics']['strongest_mode_hz'], '.0f')}</td><td>{fmt(c['metrics']['hf_share'], '.3f')}</td>"
        f"<td>{fmt(c['metrics']['loudness_db'], '.1f')}</td><td>{fmt(c['metrics']['latent_diversity_ratio'], '.3f')}</td></tr>"
        for c in cps
    )
    sections = "".join(
        f"<section id='step{c['step']}'><h3>step {c['step']} · phase {c['phase']}</h3>"
        f"<p><code>{e(c['export'])}</code></p>"
        f"<div class='clips'>{''.join(clips.player(clip, name) for name, clip in c['clips'].items())}</div>"
        + (
            f"<p>Decoded from latent codes no input produced ({c['latent']['latent_size']} dimensions):</p>"
            f"<div class='clips'>{''.join(clips.player(clip, name) for name, clip in c['latent_clips'].items())}</div>"
            if c["latent_clips"]
            else ""
        )
        + "</section>"
        for c in cps
    )
    curves = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in report["curves"].items())
    inputs = "".join(clips.player(c, name) for name, c in report["input_clips"].items())
    return f"""<!doctype html><meta charset="utf-8"><title>Timeline of {e(report["run"])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style>
<h1>How {e(report["run"])} learned</h1>
<p>{len(cps)} checkpoints of <code>{e(report["run"])}</code> (RAVE {e(report.get("config", ""))}), steps {cps[0]["step"]}
to {cps[-1]["step"]}; RAVE's adversarial phase begins after step {report["phase_1_duration"]}. Each checkpoint was exported
with <code>rave export --streaming</code> and run block by block as nn~ runs it (buffer {report["buffer"]}, torch seed 0)
on the same inputs. Clips play at {clips.TARGET_RMS_DB:.0f} dBFS RMS, the level the model produced printed beside them.</p>
<img src="curves.png" alt="metrics against the training step">
<ul>{curves}</ul>
<h2>A/B: {e(first)} through every checkpoint</h2><div class='clips'>{strip}</div>
<h2>Numbers</h2><table><tr><th>step</th><th>phase</th><th>validation</th><th>spectral distance</th><th>homogenisation</th>
<th>modes</th><th>strongest dB</th><th>at Hz</th><th>&gt;8 kHz share</th><th>RMS dBFS</th><th>latent diversity</th></tr>{rows}</table>
<h2>Inputs</h2><div class='clips'>{inputs}</div>
<h2>Sound from the latent space</h2><p>{e(report["latent_definition"])}</p>
<h2>Every checkpoint</h2>{sections}
"""
