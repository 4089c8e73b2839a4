"""The one reader of the process environment: each variable it reads is declared in spec/settings.py, so
`make help` lists every setting the project takes (tests/test_spec_layer.py checks nothing else reads it)."""

import os

from spec.settings import SETTINGS


def env(var: str) -> str:
    """The variable's value, "" when unset; a name the settings table does not declare is a programming
    error (add it to spec/settings.py with its meaning and default)."""
    if var not in SETTINGS:
        raise KeyError(f"{var} is not declared in spec/settings.py")
    return os.environ.get(var, "")


def child_env(**changes: str) -> dict[str, str]:
    """This process's environment with `changes`, for a subprocess."""
    return {**os.environ, **changes}


def environment() -> dict[str, str]:
    """A copy of the whole environment (for --from-make, which reads the table's make variables from it)."""
    return dict(os.environ)
