"""How one claim's verdicts over many models become one: a row per claim and model (`row`), and per claim the
verdict over its models, how many it holds for and the median effect with a bootstrap interval (`summarise`)."""

from collections import Counter

import numpy as np

HOLDS_FROM = 0.75  # over a claim's models: supported (or refuted) when this share of the
# decisive verdicts agree; anything between is partly
BOOTSTRAP = 2000  # resamples for the 95 % interval of the median effect (seed 0)


def row(claim_id: str, claim: str, evidence: str, verdict: str, models=(), effect=None, unit: str = "") -> dict:
    """One claim judged on the models named (export:method keys); effect: the number the verdict rests on."""
    return {
        "id": claim_id,
        "claim": claim,
        "evidence": evidence,
        "verdict": verdict,
        "models": list(models),
        "effect": None if effect is None or effect != effect else float(effect),
        "unit": unit,
    }


def summarise(rows: list[dict]) -> list[dict]:
    """One record per claim: the verdict over every model it was judged on, how many it holds for, and
    the median effect with a 95 % percentile-bootstrap interval over those models (None below two)."""
    out = []
    for cid in dict.fromkeys(r["id"] for r in rows):
        group = [r for r in rows if r["id"] == cid]
        counts = Counter(r["verdict"] for r in group)
        decisive = sum(counts[v] for v in ("supported", "partly", "refuted"))
        if not decisive:
            verdict = counts.most_common(1)[0][0]
        elif counts["supported"] >= HOLDS_FROM * decisive:
            verdict = "supported"
        elif counts["refuted"] >= HOLDS_FROM * decisive:
            verdict = "refuted"
        else:
            verdict = "partly"
        holds = f"holds for {counts['supported']}/{decisive}" if decisive else "no decisive measurement"
        if decisive < len(group):
            holds += "; " + ", ".join(
                f"{n} {v}" for v, n in counts.items() if v not in ("supported", "partly", "refuted")
            )
        effects = np.array([r["effect"] for r in group if r["effect"] is not None], float)
        interval = None
        if len(effects) > 1:
            picks = np.random.default_rng(0).integers(0, len(effects), (BOOTSTRAP, len(effects)))
            interval = [float(v) for v in np.percentile(np.median(effects[picks], axis=1), [2.5, 97.5])]
        out.append(
            {
                "id": cid,
                "claim": group[0]["claim"],
                "verdict": verdict,
                "holds": holds,
                "counts": dict(counts),
                "effect": float(np.median(effects)) if len(effects) else None,
                "interval": interval,
                "unit": group[0]["unit"],
                "n_models": len({m for r in group for m in r["models"]}),
                "n_rows": len(group),
            }
        )
    return out
