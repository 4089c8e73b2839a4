"""Check a recipe's gin settings exactly as `rave train` will parse them, before any work starts.

`rave train` parses its config files and `--override` bindings only after it has built the dataset,
and gin accepts some mistakes silently: `PHASE_1_DUATION=10` defines a new macro nothing reads.
So every binding is parsed here first, against the recipe's own config, and each mistake becomes one
sentence naming the binding and the reason. Also reads PHASE_1_DURATION as the recipe resolves it.

Runs in a subprocess (it imports rave and torch): `python -m rave_pipeline.gin_check CONFIG... --
BINDING...` prints one JSON line: {"phase_1_duration": N} or {"error": "..."}.
"""
import json
import sys
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[1])


def with_extension(name: str) -> str:
    return name if name.endswith(".gin") else name + ".gin"


def check(configs: list[str], overrides: list[str]) -> dict:
    import gin
    from gin import config as gin_config, config_parser

    import rave  # noqa: F401  (registers RAVE's configurables and its config folder)

    configs = [with_extension(c) for c in configs]
    shown = ", ".join(Path(c).stem for c in configs)
    try:
        gin.clear_config()
        gin.parse_config_files_and_bindings(configs, [])
        macros = sorted(scope for scope, selector in gin_config._CONFIG if selector == "gin.macro")
        for binding in overrides:
            try:
                statements = list(config_parser.ConfigParser(binding, gin_config.ParserDelegate(skip_unknown=True)))
            except SyntaxError as e:
                return {"error": f"OVERRIDE '{binding}' is not a gin binding ({e.msg.split(' (line')[0]}): write "
                                 "NAME=VALUE or Configurable.parameter=VALUE, no spaces, e.g. OVERRIDE='PHASE_1_DURATION=500000'"}
            for st in statements:
                if getattr(st, "arg_name", None) == "" and st.selector not in macros:
                    return {"error": f"OVERRIDE '{binding}' sets {st.selector}, which nothing in {shown} reads "
                                     f"(gin would ignore it): its macros are {', '.join(macros)}"}
        gin.clear_config()
        try:
            gin.parse_config_files_and_bindings(configs, overrides)
        except (ValueError, KeyError, TypeError) as e:
            reason = str(e).strip().splitlines()[0]
            culprit = next((b for b in overrides if b.split("=")[0].strip().split(".")[0] in reason), " ".join(overrides))
            return {"error": f"OVERRIDE '{culprit}' does not fit {shown}: {reason}"}
        return {"phase_1_duration": int(gin.query_parameter("%PHASE_1_DURATION"))}
    finally:
        gin.clear_config()


def main() -> None:
    sys.path[:] = [p for p in sys.path if p not in ("", ".", REPO)]  # our configs/ would shadow RAVE's
    import logging

    logging.disable(logging.ERROR)   # gin logs every config path it tries before finding one
    args = sys.argv[1:]
    split = args.index("--") if "--" in args else len(args)
    print(json.dumps(check(args[:split], args[split + 1:])))


if __name__ == "__main__":
    main()
