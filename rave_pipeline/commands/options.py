"""The settings table (spec/settings.py) on the command line: each row is a make variable (BATCH=8), the
CLI flag it becomes (--batch 8), how it is checked, which commands take it, and the flag it becomes on
`rave train`'s command line.

The Makefile passes nothing by hand: `rave-to-chaos --from-make train noise` reads the table's variables
from its environment (make puts command-line variables there, unquoted and unmangled by a shell), and
a job gets the same settings back as flags (`argv`). Every value, from make, a flag or a recipe file,
is checked by `check` once, with one sentence naming the variable.
"""

import argparse
import shlex
from pathlib import Path

from safeio import UserError
from safeio.environment import environment
from spec.settings import COUNT_MAX, DATA, EXPORT, EXPORT_ALL, OPTIONS, TIMELINE, TRAIN, Setting

__all__ = [
    "COUNT_MAX",
    "DATA",
    "EXPORT",
    "EXPORT_ALL",
    "OPTIONS",
    "TIMELINE",
    "TRAIN",
    "Setting",
    "add_to",
    "argv",
    "check_count",
    "from_environment",
    "parse",
    "rave_flags",
]


def check_count(var: str, value, minimum: int = 1, where: str = "") -> int:
    """The one check of a whole-number setting, from make, a flag or a recipe file (where: which file)."""
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            pass
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UserError(f"{var}={value}{where} is not a whole number of {minimum} or more")
    if value > COUNT_MAX:
        raise UserError(f"{var}={value}{where} is too large: at most {COUNT_MAX}")
    return value


def parse(option: Setting, text: str):
    if option.kind == "count":
        return check_count(option.var, text, option.minimum)
    if option.kind == "path":
        return Path(text)
    if option.kind == "switch":
        return text.strip().lower() in ("1", "yes", "true")
    return text


def add_to(parser: argparse.ArgumentParser, scopes=(DATA, TRAIN, EXPORT), hidden=()) -> None:
    """The table's flags on an argparse parser (checked by `parse`, said as the make variable). Those of the
    `hidden` scopes are taken but not listed: a job script hands the same settings to each of its steps."""
    for o in OPTIONS:
        if o.scope not in scopes and o.scope not in hidden:
            continue
        shown = o.help if o.scope in scopes else argparse.SUPPRESS
        if o.kind == "switch":
            parser.add_argument(o.flag, action="store_true", help=shown)
        elif o.repeatable:
            parser.add_argument(o.flag, action="append", default=[], help=shown)
        else:
            parser.add_argument(o.flag, type=argparse_type(o), default=None, help=shown)


def argparse_type(option: Setting):
    def convert(text: str):
        try:
            return parse(option, text)
        except UserError as e:
            raise argparse.ArgumentTypeError(str(e))

    convert.__name__ = option.var
    return convert


def shell_words(o: Setting, text: str) -> list[str]:
    """File names as a shell splits them: quotes keep a name with spaces whole."""
    try:
        return shlex.split(text)
    except ValueError as e:
        raise UserError(f"{o.var}={text!r}: {e}; quote each name with spaces once ({o.var}='\"my take.wav\" b.wav')")


def from_environment(args: argparse.Namespace, environ=None) -> None:
    """--from-make: each table variable set (non-empty) in the environment, where no flag gave it."""
    environ = environment() if environ is None else environ
    for o in OPTIONS:
        text = environ.get(o.var, "")
        if not text.strip() or not hasattr(args, o.dest):
            continue
        current = getattr(args, o.dest)
        if o.repeatable and not current:
            setattr(args, o.dest, shell_words(o, text) if o.kind == "paths" else text.split())
        elif o.kind == "switch" and not current:
            setattr(args, o.dest, parse(o, text))
        elif not o.repeatable and o.kind != "switch" and current is None:
            setattr(args, o.dest, parse(o, text))


def argv(args: argparse.Namespace, scopes=(DATA, TRAIN, EXPORT)) -> list[str]:
    """The flags that give a job the same settings (ROOT made absolute)."""
    out = []
    for o in OPTIONS:
        value = getattr(args, o.dest, None)
        if o.scope not in scopes or value in (None, False, []):
            continue
        if o.kind == "switch":
            out.append(o.flag)
        elif o.repeatable:
            for item in value:
                out += [o.flag, item]
        else:
            out += [o.flag, str(Path(value).resolve() if o.kind == "path" else value)]
    return out


def rave_flags(values: dict) -> list[str]:
    """rave train's flags for the table's values ({"BATCH": 8, "OVERRIDE": [...], ...}), in table order."""
    out = []
    for o in OPTIONS:
        if o.rave is None or o.var not in values:
            continue
        items = values[o.var] if o.repeatable else [values[o.var]]
        for item in items:
            out += [o.rave, str(item)]
    return out
