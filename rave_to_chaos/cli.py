"""rave-to-chaos SUBCOMMAND [options]: every make target of the project as one installed command.

Each subcommand runs the module that does the work, with the rest of the command line (`--help` on any
subcommand lists its options). The Makefile calls this command; an installed copy (pip install .) runs
it from any folder.
"""

import runpy
import sys

from safeio.errors import CALLED_AS
from spec.settings import table as settings_table

# subcommand -> (module run as __main__, the arguments it gets first), grouped as in `make help`
COMMANDS = {
    "preprocess": ("rave_pipeline", ["preprocess"]),
    "train": ("rave_pipeline", ["train"]),
    "export": ("rave_pipeline", ["export"]),
    "export-chaos": ("rave_pipeline", ["export-chaos", "all"]),
    "export-all": ("rave_pipeline", ["export-all", "all"]),
    "export-neutone": ("audition.neutone_save", []),
    "cluster-train": ("rave_pipeline", ["submit"]),
    "cluster-export-all": ("rave_pipeline", ["submit", "all", "--export-only"]),
    "cluster-timeline": ("rave_pipeline", ["submit", "--timeline"]),
    "validate": ("audition", ["validate"]),
    "bench": ("audition", ["bench"]),
    "info": ("audition", ["info"]),
    "render": ("audition", ["render"]),
    "compare": ("compare", []),
    "timeline": ("rave_to_chaos.timeline", []),
    "bench-chaos": ("compare.bench_chaos", []),
    "ranges": ("compare.ranges", []),
    "bench-guard": ("rave_pipeline.benchmarks.bench_guard", []),
    "bench-gpu": ("rave_pipeline.benchmarks.bench_gpu", []),
    "bench-preprocess": ("rave_pipeline.benchmarks.bench_preprocess", []),
    "bench-loader": ("rave_pipeline.benchmarks.bench_loader", []),
    "bench-train": ("rave_pipeline.benchmarks.bench_train", []),
    "realtime": ("audition.realtime", []),
}


def usage() -> str:
    return (
        __doc__.split("\n\n")[0]
        + "\n\nsubcommands: "
        + ", ".join(COMMANDS)
        + ", help (this, with every setting)"
        + "\n(--from-make before the subcommand: read make variables such as BATCH=8 from the environment)"
    )


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    from_make = "--from-make" in argv[:1]
    argv = argv[1:] if from_make else argv
    if argv[:1] == ["help"]:
        print(usage() + "\n\n" + settings_table())
        return
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown subcommand {argv[0]!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
            sys.exit(2)
        print(usage())
        return
    module, first = COMMANDS[argv[0]]
    make = ["--from-make"] if from_make and module in ("rave_pipeline", "rave_to_chaos.timeline") else []
    CALLED_AS.append(f"rave-to-chaos {argv[0]}")  # each usage line names the subcommand typed
    sys.argv = [f"rave-to-chaos {argv[0]}", *first, *argv[1:], *make]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
