"""Pure Data patches written from code: the one writer behind every .pd file the project generates
(the timeline patch, `make realtime HOST=nn~`, the real-host tests).

A .pd file is a canvas line, then one line per box (`#X obj X Y text;`, `#X msg ...`), then the wires
(`#X connect A OUTLET B INLET;`), where A and B count the boxes from 0 in the order they were written.
"""

from pathlib import Path


def pd_symbol(path: Path) -> str:
    """A path as one Pd atom: space, comma, semicolon and dollar escaped."""
    return "".join("\\" + c if c in " ,;$" else c for c in str(path))


class Patch:
    def __init__(self, canvas: str = "0 0 600 400 12"):
        self.canvas, self.boxes, self.wires = canvas, [], []

    def box(self, text: str, x: int = 10, y: int = 10) -> int:
        """Add 'obj phasor~ 110', 'msg bufsize 512', 'text ...' or 'floatatom ...' at (x, y); -> its number."""
        kind, rest = text.split(" ", 1)
        self.boxes.append(f"#X {kind} {x} {y} {rest};")
        return len(self.boxes) - 1

    def wire(self, a: int, b: int, outlet: int = 0, inlet: int = 0) -> None:
        self.wires.append(f"#X connect {a} {outlet} {b} {inlet};")

    def chain(self, *boxes: int) -> None:
        """Each box's left outlet into the next one's left inlet."""
        for a, b in zip(boxes, boxes[1:]):
            self.wire(a, b)

    def text(self) -> str:
        return "\n".join([f"#N canvas {self.canvas};", *self.boxes, *self.wires]) + "\n"
