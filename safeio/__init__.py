"""Clear errors, atomic writes and audio decoding shared by every command of the project.

Every command-line entry point wraps its main in `cli_main`, so a `UserError` reaches the user as one
readable line (naming the file and the fix) with a non-zero exit, never as a traceback.
"""

from safeio.audio import decode_audio, write_wav
from safeio.errors import UserError, cli_main, number, program, require_tool, warn
from safeio.files import atomic_path, atomic_write_text, cache_dir, sha256_of, write_manifest

__all__ = [
    "UserError",
    "cli_main",
    "number",
    "program",
    "require_tool",
    "warn",
    "atomic_path",
    "cache_dir",
    "atomic_write_text",
    "sha256_of",
    "write_manifest",
    "decode_audio",
    "write_wav",
]
