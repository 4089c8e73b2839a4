"""make mutants: break one behaviour at a time in a scratch copy and search the tests for one that notices.

Each mutation in tests/mutants.toml replaces one exact piece of code (found once). The gate does not ask
which test was written for it: it runs the whole test modules of the file's area (tests/mutants.toml's
[area] table; fast tests, stopping at the first failure), then the slow tests the mutation names, if any,
and records which test failed first. Tests of the code's form (pytest mark `form`: sizes, lint, this list)
are not run: a mutation breaks them without breaking a behaviour. A catch counts only if the catching test
passes again without the mutation (confirm). Two scratch copies run side by side (one per core); each is
this checkout's tracked and unignored files, its packages shadowing the installed ones (PYTHONPATH), the
venv shared. Prints caught or SURVIVED with the catching test and the seconds, and writes docs/mutants.md.

    .venv/bin/python scripts/mutants.py [--only ID ...] [--jobs 2] [--out docs/mutants.md]
"""

import argparse
import os
import queue
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from safeio.environment import child_env

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("spec", "safeio", "chaos_models", "audition", "compare", "rave_pipeline", "rave_to_chaos")


def scratch_copy(into: Path) -> dict:
    """A copy of the checkout in `into`; -> the environment its tests run in."""
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
    # on PYTHONPATH: the copy's packages before the installed ones; beside the copy, not in it, so the copy
    # holds exactly the checkout's files (a test that scans the tree sees what it sees in the checkout)
    shadow = into.with_name(into.name + "-packages")
    shadow.mkdir()
    for p in PACKAGES:
        (shadow / p).symlink_to(into / p)
    return child_env(PYTHONPATH=str(shadow), OMP_NUM_THREADS="1")


def area_of(file: str, areas: dict) -> list[str]:
    """The test modules of the longest [area] prefix that `file` starts with."""
    best = max((p for p in areas if file.startswith(p)), key=len, default=None)
    if best is None:
        raise SystemExit(f"tests/mutants.toml: no [area] covers {file}; add its prefix and test modules")
    return areas[best]


def first_failure(proc: subprocess.CompletedProcess) -> str:
    """The test that failed first (pytest's short summary line), or the last line when none is named."""
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    named = [line for line in lines if line.startswith(("FAILED tests/", "ERROR tests/"))]
    return (named or lines[-1:] or [""])[0]


def pytest_cmd(copy: Path) -> list[str]:
    return [str(copy / ".venv/bin/pytest"), "-q", "-p", "no:cacheprovider", f"--basetemp={copy}/.tmp"]


def pytest(copy: Path, env: dict, args: list, timeout: float) -> tuple[bool | None, str]:
    """-> (some test failed or could not be collected, which); None when every test skipped (a real host's
    sources not given: NN_TILDE_SRC / NN_AR_SRC). A usage error is the gate's, not a catch."""
    cmd = [*pytest_cmd(copy), "-x", *args]
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, f"timed out after {timeout:.0f} s"
    if proc.returncode in (3, 4):
        raise SystemExit(f"pytest could not run {shlex.join(args)}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode == 0 and "skipped" in last and "passed" not in last:
        return None, last
    return proc.returncode in (1, 2), first_failure(proc)


def last_catcher(out: Path) -> dict:
    """Per mutation id, the test that caught it in the last run (docs/mutants.md), if it still exists: run
    first, so a mutation caught before costs one test; when it no longer fails, the whole area runs."""
    found = {}
    for line in out.read_text().splitlines() if out.exists() else []:
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) == 7 and cells[3].startswith("`tests/"):
            test = cells[3].strip("`").split("[")[0]
            file, _, name = test.partition("::")
            if name and (REPO / file).is_file() and f"def {name}(" in (REPO / file).read_text():
                found[cells[0][2:]] = test
    return found


def run_one(m: dict, areas: dict, copy: Path, env: dict, timeout: float, first: str | None) -> tuple[str, float, str]:
    """-> (caught / SURVIVED / stale, seconds, the test that caught it)."""
    target = copy / m["file"]
    original = target.read_text()
    found = original.count(m["find"])
    if found != 1:
        return f"stale ({found} matches)", 0.0, ""
    target.write_text(original.replace(m["find"], m["replace"]))
    t0 = time.perf_counter()
    try:
        caught, which = pytest(
            copy, env, ["-m", "not slow and not form", *([first] if first else []), *area_of(m["file"], areas)], timeout
        )
        if not caught and m.get("slow"):
            caught, which = pytest(copy, env, ["-m", "not form", *m["slow"]], timeout)
    finally:
        target.write_text(original)
    verdict = "caught" if caught else "SURVIVED" if caught is not None else "not run (its tests skipped)"
    return verdict, time.perf_counter() - t0, which if caught is not False else ""


def run_all(mutants: list, areas: dict, jobs: int, timeout: float, catchers: dict) -> list:
    """Each mutation on whichever scratch copy is free; -> [(mutant, verdict, seconds, caught by)]."""
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        copies: queue.Queue = queue.Queue()
        for i in range(jobs):
            (Path(tmp) / str(i)).mkdir()
            copies.put((Path(tmp) / str(i), scratch_copy(Path(tmp) / str(i))))
        print(f"{len(mutants)} mutation(s) on {jobs} copies in {tmp}", flush=True)

        def task(m):
            copy, env = copies.get()
            try:
                verdict, seconds, which = run_one(m, areas, copy, env, timeout, catchers.get(m["id"]))
            finally:
                copies.put((copy, env))
            print(f"{verdict:<9} {seconds:6.1f} s  {m['id']:<30} {m['file']}\n{'':<19}{which[:150]}", flush=True)
            return m, verdict, seconds, which

        with ThreadPoolExecutor(jobs) as pool:
            rows = list(pool.map(task, mutants))
        return confirm(rows, [copies.get() for _ in range(jobs)], timeout)


def node_of(which: str) -> str:
    """pytest's id of the failing test in its summary line ("FAILED <file>::<test>[<case>] - message")."""
    return which.split(" - ")[0].removeprefix("FAILED ").removeprefix("ERROR ")


def confirm(rows: list, copies: list, timeout: float) -> list:
    """A catch counts only if the catching test passes without the mutation, in the same scratch copy: each
    fast catcher runs once more, unmutated (a slow one is the suite's to prove). One that fails there caught
    nothing: its mutations are reported as false catches."""
    slow = {
        node_of(w)
        for m, v, _, w in rows
        if v == "caught" and any(node_of(w).startswith(t.split("::")[0]) for t in m.get("slow", []))
    }
    nodes = sorted({node_of(w) for _, v, _, w in rows if v == "caught" and node_of(w).startswith("tests/")} - slow)
    shards = [nodes[i :: len(copies)] for i in range(len(copies))]
    print(f"confirming {len(nodes)} catching test(s) pass without any mutation", flush=True)

    def failing(shard, copy_env):
        copy, env = copy_env
        return unmutated_failures(copy, env, shard, timeout) if shard else []

    with ThreadPoolExecutor(len(copies)) as pool:
        false = {n for found in pool.map(failing, shards, copies) for n in found}
    for n in sorted(false):
        print(f"FALSE CATCH: {n} fails without any mutation", flush=True)
    return [(m, "false catch" if v == "caught" and node_of(w) in false else v, s, w) for m, v, s, w in rows]


def unmutated_failures(copy: Path, env: dict, nodes: list, timeout: float) -> list:
    """The nodes among `nodes` that fail (or cannot be collected) in the unmutated copy."""
    cmd = [*pytest_cmd(copy), "-m", "not form"]
    proc = subprocess.run([*cmd, *nodes], cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode == 4 and len(nodes) > 1:  # an id pytest cannot parse back: one at a time
        return [n for n in nodes for bad in [unmutated_failures(copy, env, [n], timeout)] if bad]
    if proc.returncode == 4:  # still unparsable: its test function, every case
        return unmutated_failures(copy, env, [nodes[0].split("[")[0]], timeout) and nodes
    failed = {
        node_of(line) for line in (proc.stdout + proc.stderr).splitlines() if line.startswith(("FAILED ", "ERROR "))
    }
    return [n for n in nodes if n in failed or any(f.startswith(n + "[") for f in failed)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help="mutation ids to run (default: all)")
    ap.add_argument("--list", default=str(REPO / "tests/mutants.toml"))
    ap.add_argument("--out", default=str(REPO / "docs/mutants.md"))
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="mutations run at once")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--search-all", action="store_true", help="ignore the last run's catchers: search from scratch")
    args = ap.parse_args()
    listed = tomllib.loads(Path(args.list).read_text())
    mutants = listed["mutant"]
    if args.only:
        mutants = [m for m in mutants if m["id"] in args.only]
    t0 = time.perf_counter()
    catchers = {} if args.search_all else last_catcher(Path(args.out))
    rows = run_all(mutants, listed["area"], max(1, args.jobs), args.timeout, catchers)
    caught = sum(v == "caught" for _, v, _, _ in rows)
    print(f"\n{caught}/{len(rows)} caught in {(time.perf_counter() - t0) / 60:.1f} min with {args.jobs} job(s)")
    write_table(Path(args.out), rows, time.perf_counter() - t0, args.jobs)
    return 0 if caught == len(rows) else 1


def write_table(out: Path, rows: list, wall: float, jobs: int) -> None:
    """docs/mutants.md: one row per mutation; a run of some (--only) replaces their rows and keeps the rest."""
    table = {
        m["id"]: f"| {m['id']} | `{m['file']}` | {m['breaks']} | `{node_of(which)}` | {v} | {s:.0f} | "
        f"{time.strftime('%Y-%m-%d')} |"
        for m, v, s, which in rows
    }
    if out.exists():
        old = {
            line.split(" | ")[0][2:]: line
            for line in out.read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| id ", "|---")) and line.count(" | ") == 6
        }
        table = {**old, **table}
    results = [line.split(" | ")[4] for line in table.values()]
    out.write_text(
        "# The mutation gate: its last result\n\n`make mutants` (scripts/mutants.py) applies each one-line mutation of "
        "`tests/mutants.toml` to a scratch copy and runs the whole test modules of the mutated file's area "
        "(fast tests first, then any slow tests the mutation names), stopping at the first test that fails.\n"
        f"{sum(r == 'caught' for r in results)}/{len(results)} caught; the last run, of {len(rows)} of them, took "
        f"{wall / 60:.0f} min with {jobs} mutations at a time on 2 cores (the run date of each row at its end).\n\n"
        "| id | file | the behaviour it breaks | caught by | result | s | run |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(table.values())
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
