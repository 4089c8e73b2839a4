"""Check a recipe's gin settings exactly as `rave train` will parse them, before any work starts.

`rave train` parses its config files and `--override` bindings only after it has built the dataset,
and gin accepts some mistakes silently: `PHASE_1_DUATION=10` defines a new macro nothing reads.
So every binding is parsed here first, against the recipe's own config, and each mistake becomes one
sentence naming the binding and the reason. Also reads PHASE_1_DURATION as the recipe resolves it.

Runs in a subprocess (it imports rave and torch): `python -m rave_pipeline.commands.gin_check CONFIG... --
BINDING...` prints one JSON line: {"phase_1_duration": N} or {"error": "..."}.
"""

import json
import math
import sys
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])


def with_extension(name: str) -> str:
    return name if name.endswith(".gin") else name + ".gin"


def check(configs: list[str], overrides: list[str]) -> dict:
    import gin
    import rave  # noqa: F401  (registers RAVE's configurables and its config folder)
    from gin import config as gin_config
    from gin import config_parser

    configs = [with_extension(c) for c in configs]
    shown = ", ".join(Path(c).stem for c in configs)
    try:
        gin.clear_config()
        gin.parse_config_files_and_bindings(configs, [])
        macros = sorted(scope for scope, selector in gin_config._CONFIG if selector == "gin.macro")
        for binding in overrides:
            try:
                statements = list(config_parser.ConfigParser(binding, gin_config.ParserDelegate(skip_unknown=True)))
            except Exception as e:  # SyntaxError, or the tokenizer's own errors on an unclosed ( or [
                why = str(getattr(e, "msg", None) or (e.args[0] if e.args else type(e).__name__)).split(" (line")[0]
                why = (
                    "a ( or [ is never closed"
                    if "EOF in multi-line" in why
                    else "its value is not a number, a quoted string, a list or a tuple"
                    if "malformed node" in why
                    else why.splitlines()[0]
                )
                return {
                    "error": f"OVERRIDE '{binding}' is not a gin binding ({why}): write "
                    "NAME=VALUE or Configurable.parameter=VALUE, no spaces, e.g. OVERRIDE='PHASE_1_DURATION=500000'"
                }
            for st in statements:
                if getattr(st, "arg_name", None) == "" and st.selector not in macros:
                    return {
                        "error": f"OVERRIDE '{binding}' sets {st.selector}, which nothing in {shown} reads "
                        f"(gin would ignore it): its macros are {', '.join(macros)}"
                    }
        gin.clear_config()
        try:
            gin.parse_config_files_and_bindings(configs, overrides)
        except (ValueError, KeyError, TypeError, SyntaxError) as e:
            reason = str(e).strip().splitlines()[0]
            if "malformed node" in reason:  # a bare word: gin reads Python literals only
                reason = "its value is not a number, a quoted string, a list or a tuple"
            culprit = next(
                (b for b in overrides if b.split("=")[0].strip().split(".")[0] in reason), " ".join(overrides)
            )
            return {"error": f"OVERRIDE '{culprit}' does not fit {shown}: {reason}"}
        phase_1 = gin.query_parameter("%PHASE_1_DURATION")
        if not isinstance(phase_1, int) or isinstance(phase_1, bool) or phase_1 < 0:
            culprit = next((b for b in overrides if "PHASE_1_DURATION" in b), "the config")
            return {
                "error": f"OVERRIDE '{culprit}' sets PHASE_1_DURATION to {phase_1!r}: it takes a whole number "
                f"of steps, "
                "e.g. OVERRIDE='PHASE_1_DURATION=500000'"
            }
        ratios, bands = gin.query_parameter("%RATIOS"), gin.query_parameter("%N_BAND")
        return {"phase_1_duration": phase_1, "compression": int(math.prod(ratios)) * int(bands)}
    finally:
        gin.clear_config()


def main() -> None:
    sys.path[:] = [p for p in sys.path if p not in ("", ".", REPO)]  # our configs/ would shadow RAVE's
    import logging

    logging.disable(logging.ERROR)  # gin logs every config path it tries before finding one
    args = sys.argv[1:]
    split = args.index("--") if "--" in args else len(args)
    print(json.dumps(check(args[:split], args[split + 1 :])))


if __name__ == "__main__":
    main()
