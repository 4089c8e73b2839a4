"""One-sentence errors for users instead of tracebacks."""

import argparse
import functools
import shutil
import sys


class UserError(Exception):
    """A problem the user can fix; its message names the file and the fix."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def require_tool(name: str) -> str:
    """Path of an external program, or a UserError telling how to get it."""
    path = shutil.which(name)
    if path is None:
        raise UserError(f"{name} not found: run make setup (it installs {name} with apt-get)")
    return path


CALLED_AS: list[str] = []  # rave-to-chaos puts the subcommand a user typed here, for the usage lines


def program(default: str) -> str:
    """The name a command's usage line shows: `rave-to-chaos SUBCOMMAND` when called through it, else `default`
    (python -m ...)."""
    return CALLED_AS[-1] if CALLED_AS else default


def cli_main(main):
    """Decorate a CLI main(): UserError -> 'error: ...' on stderr and exit 2; Ctrl-C -> exit 130."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    return wrapper


def number(kind, low, high, what: str):
    """argparse type: a finite number of `kind` in [low, high], refused in one sentence naming the option."""

    def parse(text: str):
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            value = None
        if value is None or not low <= value <= high:  # NaN and inf fail the bounds too
            shown = (lambda v: str(v)) if kind is int else (lambda v: f"{v:g}")
            raise argparse.ArgumentTypeError(
                f"{what} {text!r}: give a {'whole ' if kind is int else ''}number from {shown(low)} to {shown(high)}"
            )
        return value

    parse.__name__ = what
    return parse
