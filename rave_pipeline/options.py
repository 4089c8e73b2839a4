"""The one table of settings: each row is a make variable (BATCH=8), the CLI flag it becomes (--batch 8),
how it is checked, which commands take it, and the flag it becomes on `rave train`'s command line.

The Makefile passes nothing by hand: `rave-to-chaos --from-make train noise` reads the table's variables
from its environment (make puts command-line variables there, unquoted and unmangled by a shell), and
a job gets the same settings back as flags (`argv`). Every value, from make, a flag or a recipe file,
is checked by `check` once, with one sentence naming the variable.
"""
import argparse
import dataclasses
import os
from pathlib import Path

from safeio import UserError

DATA, TRAIN = "data", "train"   # data: every RAVE command (preprocess, export); train: training only
EXPORT, TIMELINE = "export", "timeline"   # one checkpoint's export; the timeline of a run
COUNT_MAX = 2 ** 31 - 1         # what RAVE's and Lightning's integer settings hold


@dataclasses.dataclass(frozen=True)
class Option:
    var: str                  # the make variable
    kind: str                 # "count" (whole number >= minimum), "text", "path", "list" (repeatable), "switch"
    scope: str
    help: str
    minimum: int = 1
    rave: str | None = None   # rave train's flag for the value, when it is passed on as it is

    @property
    def dest(self) -> str:
        return self.var.lower()

    @property
    def flag(self) -> str:
        return "--" + self.var.lower().replace("_", "-")


OPTIONS = [
    Option("ROOT", "path", DATA, "folder holding datasets/, runs/, exports/ (default: the repo)"),
    Option("TAG", "text", DATA, "train/export a variant with its own run (e.g. batch8 in a sweep)"),
    Option("RAW", "text", DATA, "raw recordings folder (relative to ROOT, or absolute)"),
    Option("EXPORTS", "text", DATA, "exports folder (relative to ROOT, or absolute; default exports)"),
    Option("N_SIGNAL", "count", DATA, "samples per training example (the database holds chunks of twice this)",
           rave="--n_signal"),
    Option("AUGMENT", "text", DATA, "comma-separated RAVE augmentations (mute,compress,gain), or none"),
    Option("BATCH", "count", TRAIN, "default: the recipe's table for this GPU", rave="--batch"),
    Option("GPU", "count", TRAIN, "GPU index (default 0)", minimum=0),
    Option("DEVICE", "text", TRAIN, "auto (default), cuda or cpu"),
    Option("MAX_STEPS", "count", TRAIN, "train up to this global step", rave="--max_steps"),
    Option("VAL_EVERY", "count", TRAIN, "validate every N steps", rave="--val_every"),
    Option("SAVE_EVERY", "count", TRAIN, "keep a checkpoint every N steps, for CKPT= exports and the timeline"),
    Option("WORKERS", "count", TRAIN, "data loader processes (0: load in the trainer)", minimum=0, rave="--workers"),
    Option("OVERRIDE", "list", TRAIN, "extra gin binding, repeatable (make: one per word)", rave="--override"),
    Option("FRESH", "switch", TRAIN, "archive the existing run and start a new one"),
    Option("CKPT", "text", EXPORT, "the checkpoint to export: a step (e.g. 120000), best, last (default) or a .ckpt path"),
    Option("EVERY", "count", TIMELINE, "timeline: every k-th kept checkpoint (the newest always)"),
    Option("INPUTS", "list", TIMELINE, "timeline: your audio files, rendered beside compare's input set (make: one per word)"),
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


def parse(option: Option, text: str):
    if option.kind == "count":
        return check_count(option.var, text, option.minimum)
    if option.kind == "path":
        return Path(text)
    if option.kind == "switch":
        return text.strip().lower() in ("1", "yes", "true")
    return text


def add_to(parser: argparse.ArgumentParser, scopes=(DATA, TRAIN, EXPORT)) -> None:
    """The table's flags on an argparse parser (checked by `parse`, said as the make variable)."""
    for o in OPTIONS:
        if o.scope not in scopes:
            continue
        if o.kind == "switch":
            parser.add_argument(o.flag, action="store_true", help=o.help)
        elif o.kind == "list":
            parser.add_argument(o.flag, action="append", default=[], help=o.help)
        else:
            parser.add_argument(o.flag, type=argparse_type(o), default=None, help=o.help)


def argparse_type(option: Option):
    def convert(text: str):
        try:
            return parse(option, text)
        except UserError as e:
            raise argparse.ArgumentTypeError(str(e))
    convert.__name__ = option.var
    return convert


def from_environment(args: argparse.Namespace, environ=os.environ) -> None:
    """--from-make: each table variable set (non-empty) in the environment, where no flag gave it."""
    for o in OPTIONS:
        text = environ.get(o.var, "")
        if not text.strip() or not hasattr(args, o.dest):
            continue
        current = getattr(args, o.dest)
        if o.kind == "list" and not current:
            setattr(args, o.dest, text.split())
        elif o.kind == "switch" and not current:
            setattr(args, o.dest, parse(o, text))
        elif o.kind not in ("list", "switch") and current is None:
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
        elif o.kind == "list":
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
        items = values[o.var] if o.kind == "list" else [values[o.var]]
        for item in items:
            out += [o.rave, str(item)]
    return out
