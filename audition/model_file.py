"""Open a TorchScript export and find its methods the way nn~ does."""

import copy
import dataclasses
import io
import json
import zipfile
from pathlib import Path

import torch

from safeio import UserError
from spec.inlets import Inlet, label_range


@dataclasses.dataclass
class Method:
    name: str
    in_channels: int
    in_ratio: int
    out_channels: int
    out_ratio: int
    input_labels: list[str]
    output_labels: list[str]
    inlets: list[Inlet | None]  # each input's typed range: from the export's data, else its label, else None

    def nominal(self, i: int) -> float:
        """Input i at its nominal value; 1 where the export states no range (e.g. RAVE's)."""
        return self.inlets[i].nominal if self.inlets[i] else 1.0

    def range(self, i: int) -> tuple[float, float] | None:
        inlet = self.inlets[i]
        return (inlet.low, inlet.high) if inlet else None


@dataclasses.dataclass
class Export:
    path: Path
    module: torch.jit.ScriptModule
    methods: dict[str, Method]
    discovery: str  # "get_methods()" or "<method>_params buffers"
    data: bytes = b""  # the file as read once: fresh copies come from memory
    pristine: list = dataclasses.field(default_factory=list, repr=False)  # [a copy never run], shared by fresh()s

    def fresh(self) -> "Export":
        """A copy in the state it was saved in (streaming models carry state between calls): a deep copy
        of a module loaded once from the bytes in memory and never run. Bit-identical to loading the
        file again, and 3-6x cheaper (v2: 83 vs 481 ms; the copies also share TorchScript's optimised
        code, which each new load has to optimise again)."""
        if not self.pristine:
            module = torch.jit.load(io.BytesIO(self.data), map_location="cpu")
            self.pristine.append(module.eval())
        return dataclasses.replace(self, module=copy.deepcopy(self.pristine[0]))

    @property
    def sampling_rate(self) -> int | None:
        for attr in ("sampling_rate", "sr"):
            if hasattr(self.module, attr):
                value = getattr(self.module, attr)
                return int(value.item() if isinstance(value, torch.Tensor) else value)
        return None

    @property
    def manifest(self) -> dict:
        m = self.path.with_suffix(".json")
        return json.loads(m.read_text()) if m.exists() else {}

    def method(self, name: str) -> Method:
        if name not in self.methods:
            raise UserError(
                f"{self.path.name} has no method {name!r}; its methods: {', '.join(self.methods)} "
                '(a host would post "method not found" and play forward)'
            )
        return self.methods[name]

    def attributes(self) -> list[str]:
        if hasattr(self.module, "get_attributes"):
            return [a for a in self.module.get_attributes() if a != "none"]
        return []

    def saved_by(self) -> str:
        """The torch that saved it: recorded in our manifests; TorchScript itself keeps only a format version."""
        version = self.manifest.get("torch_version")
        if version:
            return f"torch {version}"
        with zipfile.ZipFile(self.path) as z:
            fmt = next((z.read(n).decode().strip() for n in z.namelist() if n.endswith("/version")), "?")
        return f"unknown torch (TorchScript format {fmt})"


def method_names(module) -> tuple[list[str], str]:
    """The methods nn~ sees: get_methods() if the model has it, otherwise every <method>_params buffer.
    -> (names, how they were found)."""
    if hasattr(module, "get_methods"):
        return list(module.get_methods()), "get_methods()"
    return [n[: -len("_params")] for n, _ in module.named_buffers() if n.endswith("_params")], "<method>_params buffers"


def export_files(paths) -> list[Path]:
    """The .ts files named, or found directly inside the folders named, in a stable order."""
    files = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.ts")) if p.is_dir() else [p]
    if not files:
        raise UserError(f"no .ts files in {', '.join(map(str, paths))}: run make export-chaos (or make demo) first")
    return files


def open_export(path) -> Export:
    """Load with torch.jit.load only (never pickle) and discover methods as nn~ does:
    get_methods() if the model has it, otherwise every attribute named <method>_params."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path (exports live in exports/)")
    if not zipfile.is_zipfile(path):
        raise UserError(
            f"{path}: not a TorchScript file (not a zip archive); export it with torch.jit.save or rave export"
        )
    data = path.read_bytes()
    try:
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as e:  # torch raises RuntimeError/ValueError variants for foreign archives
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: torch.jit.load cannot open it ({first[:160]}); is it a TorchScript export?")
    module.eval()

    names, discovery = method_names(module)
    methods = {}
    for name in names:
        params = getattr(module, f"{name}_params", None)
        if params is None or not hasattr(module, name):
            continue
        in_ch, in_ratio, out_ch, out_ratio = (int(v) for v in params.tolist()[:4])
        labels_in = getattr(module, f"{name}_input_labels", None) or [f"(signal) input {i}" for i in range(in_ch)]
        labels_out = getattr(module, f"{name}_output_labels", None) or [f"(signal) output {i}" for i in range(out_ch)]
        methods[name] = Method(
            name,
            in_ch,
            in_ratio,
            out_ch,
            out_ratio,
            list(labels_in),
            list(labels_out),
            typed_inlets(module, name, list(labels_in)),
        )
    if not methods:
        raise UserError(
            f"{path}: no method nn~ can use (needs get_methods() or <method>_params buffers); "
            "register methods with nn_tilde.Module.register_method"
        )
    return Export(path, module, methods, discovery, data)


def as_export(source) -> Export:
    """An Export as given, or opened from a path: callers that hold one pass it down instead of a path."""
    return source if isinstance(source, Export) else open_export(source)


def typed_inlets(module, method: str, labels: list[str]) -> list[Inlet | None]:
    """The typed ranges an export holds (`<method>_ranges` rows min, max, nominal, with `<method>_inlet_names`
    and `_units`); for a foreign export without them, the range its label ends with, if any."""
    ranges = getattr(module, f"{method}_ranges", None)
    if ranges is not None and len(ranges) == len(labels):
        names = list(getattr(module, f"{method}_inlet_names", [""] * len(labels)))
        units = list(getattr(module, f"{method}_inlet_units", [""] * len(labels)))
        return [
            Inlet(n, label, u, lo, hi, nom) for (lo, hi, nom), n, u, label in zip(ranges.tolist(), names, units, labels)
        ]
    parsed = [label_range(label) for label in labels]
    return [Inlet(f"input {i}", label, "", *r) if r else None for i, (r, label) in enumerate(zip(parsed, labels))]
