"""make mutants: break one promised behaviour at a time in a scratch copy and check that its tests fail.

Each mutation in tests/mutants.toml replaces one exact piece of code (found once) and names the README
behaviour it breaks and the tests that must catch it. The copy is this checkout's tracked and
unignored files; its packages shadow the installed ones (PYTHONPATH), the venv is shared. Prints caught
or survived and the seconds per mutation, and writes the table to docs/mutants.md.

    .venv/bin/python scripts/mutants.py [--only ID ...] [--out docs/mutants.md]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from safeio.environment import child_env

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("spec", "safeio", "chaos_models", "audition", "compare", "rave_pipeline", "rave_to_chaos")


def scratch_copy(into: Path) -> Path:
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, into / name)
    (into / ".venv").symlink_to(REPO / ".venv")
    shadow = into / ".mutant-packages"  # on PYTHONPATH: the copy's packages before the installed ones
    shadow.mkdir()
    for p in PACKAGES:
        (shadow / p).symlink_to(into / p)
    return shadow


def run_one(m: dict, copy: Path, env: dict, timeout: float) -> tuple[str, float, str]:
    target = copy / m["file"]
    original = target.read_text()
    found = original.count(m["find"])
    if found != 1:
        return f"stale ({found} matches)", 0.0, ""
    target.write_text(original.replace(m["find"], m["replace"]))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [str(copy / ".venv/bin/pytest"), "-x", "-q", "-p", "no:cacheprovider", *m["tests"]],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        verdict = "caught" if proc.returncode != 0 else "SURVIVED"
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        tail = [l for l in lines if l.startswith(("FAILED", "ERROR"))][:1] or lines[-1:] or [""]  # which test, and why
    except subprocess.TimeoutExpired:
        verdict, tail = "caught (timed out)", [""]
    finally:
        target.write_text(original)
    return verdict, time.perf_counter() - t0, tail[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help="mutation ids to run (default: all)")
    ap.add_argument("--list", default=str(REPO / "tests/mutants.toml"))
    ap.add_argument("--out", default=str(REPO / "docs/mutants.md"))
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    mutants = tomllib.loads(Path(args.list).read_text())["mutant"]
    if args.only:
        mutants = [m for m in mutants if m["id"] in args.only]
    rows = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        copy = Path(tmp)
        shadow = scratch_copy(copy)
        env = child_env(PYTHONPATH=str(shadow), OMP_NUM_THREADS="1")
        print(f"{len(mutants)} mutation(s) on a copy in {copy}")
        for m in mutants:
            verdict, seconds, tail = run_one(m, copy, env, args.timeout)
            rows.append((m, verdict, seconds))
            print(
                f"{verdict:<10} {seconds:6.1f} s  {m['id']:<28} {m['file']}: {m['breaks']}\n{'':<20}{tail[:160]}",
                flush=True,
            )
    caught = sum(v.startswith("caught") for _, v, _ in rows)
    print(f"\n{caught}/{len(rows)} caught, {sum(s for _, _, s in rows) / 60:.1f} min")
    write_table(Path(args.out), rows)
    return 0 if caught == len(rows) else 1


def write_table(out: Path, rows: list) -> None:
    """docs/mutants.md: one row per mutation; a run of some (--only) replaces their rows and keeps the rest."""
    table = {
        m["id"]: f"| {m['id']} | `{m['file']}` | {m['breaks']} | {', '.join(f'`{t}`' for t in m['tests'])} | "
        f"{v} | {s:.0f} | {time.strftime('%Y-%m-%d')} |"
        for m, v, s in rows
    }
    if out.exists():
        old = {
            line.split(" | ")[0][2:]: line
            for line in out.read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| id ", "|---")) and line.count(" | ") == 6
        }
        table = {**old, **table}
    results = [line.split(" | ")[4] for line in table.values()]
    seconds = sum(float(line.split(" | ")[5]) for line in table.values())
    out.write_text(
        "# The mutation gate: its last result\n\n`make mutants` (scripts/mutants.py) applies each one-line mutation of "
        "`tests/mutants.toml` to a scratch copy and runs the tests that must catch it.\n"
        f"{sum(r.startswith('caught') for r in results)}/{len(results)} caught, {seconds / 60:.0f} min on 2 cores "
        "(the run date of each row at its end).\n\n"
        "| id | file | the behaviour it breaks | tests | result | s | run |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(table.values())
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
