"""NaN/inf guards compiled into RAVE's streaming export (installed by rave_cli before `rave export`).

One NaN sample in one block poisons a streaming RAVE export for good: its cached convolutions keep it,
and every later block is NaN until the host reloads the model (docs/facts.md, "acids-rave"). A live
instrument must survive a bad sample. So acids-rave's own exported class gets, before it is scripted:
encode and decode turn NaN/inf input into silence before it reaches any cache, and decode never emits
NaN/inf. For finite input `torch.nan_to_num` is the identity, so the export is bit-identical to the
unguarded one; methods, params and attributes are acids-rave's own.
"""

import types

import torch


def renamed(fn, name: str):
    """A copy of a method under another name, without its @torch.jit.export mark (compiled only
    because the guarded method calls it, so hosts see the same method list)."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__.rsplit(".", 1)[0] + "." + name
    return copy


def guarded_encode(self, x):
    return self.encode_unguarded(torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))


def guarded_decode(self, z, from_forward: bool = False):
    z = torch.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
    return torch.nan_to_num(self.decode_unguarded(z, from_forward), nan=0.0, posinf=0.0, neginf=0.0)


def install() -> None:
    from scripts import export as rave_export  # acids-rave's export script (its `scripts` package)

    cls = rave_export.ScriptedRAVE
    if getattr(cls, "nan_guarded", False):
        return
    cls.encode_unguarded = renamed(cls.encode, "encode_unguarded")
    cls.decode_unguarded = renamed(cls.decode, "decode_unguarded")
    cls.encode = torch.jit.export(guarded_encode)
    cls.decode = torch.jit.export(guarded_decode)
    cls.nan_guarded = True
