"""An inlet of an instrument: name, meaning, unit and typed range, with one rule for where it sits when
nothing else is asked. Exports carry these as data (`<method>_ranges`, `<method>_inlet_names`,
`<method>_inlet_units`); the host label is generated from them and parsed back only for foreign exports."""

import dataclasses
import re


def nominal(low: float, high: float) -> float:
    """Where a control sits when nothing else is asked: a quarter into its range (clearly playing,
    far from the wild end)."""
    return low + 0.25 * (high - low)


@dataclasses.dataclass(frozen=True)
class Inlet:
    name: str
    meaning: str
    unit: str
    low: float
    high: float
    nominal: float | None = None  # None: the rule above (an export read back gives its own)

    def __post_init__(self):
        if self.nominal is None:
            object.__setattr__(self, "nominal", nominal(self.low, self.high))

    @property
    def label(self) -> str:
        """What nn~ / nn.ar show: the useful range at the end, as the essay's patches wrote it."""
        return f"(signal) {self.name}: {self.meaning}, {self.low:g} to {self.high:g}"

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "meaning": self.meaning,
            "unit": self.unit,
            "min": self.low,
            "max": self.high,
            "nominal": self.nominal,
        }


def ranges_row(inlet: Inlet) -> list[float]:
    """One row of an export's `<method>_ranges` buffer."""
    return [inlet.low, inlet.high, inlet.nominal]


RANGE = re.compile(r"(-?\d+(?:\.\d+)?) to (-?\d+(?:\.\d+)?)\s*$")


def label_range(label: str) -> tuple[float, float] | None:
    """The range a label ends with ("..., 1 to 18"), or None: the fallback for exports without typed ranges."""
    m = RANGE.search(label)
    return (float(m[1]), float(m[2])) if m else None
