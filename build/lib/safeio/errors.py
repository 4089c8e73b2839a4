"""One-sentence errors for users instead of tracebacks."""
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
