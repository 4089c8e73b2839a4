"""Where every second of the recordings went (the accounting line), and what to do when a database is
too small for RAVE (the size advice)."""

import dataclasses

from rave_pipeline.commands.recipes import Recipe


def account(recipe: Recipe, report: dict, entries: int) -> dict:
    """Every second found: in the database, or dropped and why."""
    chunk_s = recipe.chunk_seconds
    found, used = report["found_s"], entries * chunk_s
    dropped = []
    if recipe.join_short:
        if report["left_s"]:
            dropped.append(
                {
                    "seconds": report["left_s"],
                    "why": f"the last part of the joined audio, shorter than one {chunk_s:.1f} s chunk",
                }
            )
    else:
        for k in report["kept"]:
            tail = k["seconds"] - chunks_of(recipe, k["seconds"]) * chunk_s
            if tail > 0:
                dropped.append(
                    {
                        "file": k["source"],
                        "seconds": tail,
                        "why": "shorter than a chunk" if tail == k["seconds"] else "tail after the last whole chunk",
                    }
                )
    lost = found - used
    summary = (
        f"accounting: {found:.1f} s found, {used:.1f} s in the database ({100 * used / found if found else 0:.1f} %), "
        f"{lost:.1f} s dropped"
        + (
            f" ({dropped[0]['why']})"
            if len(dropped) == 1
            else f" ({len(dropped)} files or tails shorter than a chunk; join_short is off)"
            if dropped
            else ""
        )
        + (
            f"; {len(report['skipped'])} file(s) skipped: {skip_reasons(report['skipped'])}"
            if report["skipped"]
            else ""
        )
    )
    return {
        "found_s": found,
        "in_database_s": used,
        "dropped_s": lost,
        "dropped": dropped,
        "skipped": report["skipped"],
        "chunk_s": chunk_s,
        "join_short": recipe.join_short,
        "summary": summary,
    }


def skip_reasons(skipped: list[dict]) -> str:
    """How many files were skipped for each reason, in the words of the warning that named them."""
    counts = {}
    for s in skipped:
        reason = s["why"].split(" (")[0].split(":")[0]
        counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(f"{n} {reason}" for reason, n in counts.items())


def chunks_of(recipe: Recipe, seconds: float) -> int:
    """rave preprocess cuts each file into chunks of 2 x n_signal samples and drops the remainder."""
    return int(seconds * recipe.sampling_rate) // recipe.chunk


def size_advice(recipe: Recipe, batch: int, chunks: int, seconds: float) -> str:
    """Why a database is too small, and the real ways out for this dataset: how much more audio at
    this N_SIGNAL, and which N_SIGNAL (if any) fits the audio at hand (a longer example means fewer
    chunks but more latent frames per validation chunk)."""
    chunk_s = recipe.chunk_seconds
    need = recipe.min_chunks(batch)
    more = (need - chunks) * chunk_s
    text = (
        f"dataset {recipe.db_dir} is too small for RAVE {recipe.config} at n_signal {recipe.n_signal} and batch "
        f"{batch}: it holds {chunks} chunks of {chunk_s:.1f} s ({seconds:.0f} s of audio), and RAVE needs {need} "
        f"(a training batch plus a 2 % validation split big enough for its 128-component PCA). "
        f"Add at least {more:.0f} s of recordings to {recipe.raw_dir}"
    )
    floor = recipe.facts.min_n_signal if recipe.facts else recipe.compression
    fits = [
        n
        for n in range(floor, 1 << 21, recipe.compression)
        if chunks_of(r := dataclasses.replace(recipe, n_signal=n), seconds) >= r.min_chunks(batch)
    ]
    if fits:
        n = min(fits, key=lambda n: abs(n - recipe.n_signal))
        text += (
            f", or use N_SIGNAL={n}, which fits the audio at hand (preprocess again; lower BATCH if memory runs out)"
        )
    else:
        text += f"; no N_SIGNAL fits {seconds:.0f} s of audio with RAVE {recipe.config}"
    return text
