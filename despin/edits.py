"""Edits as data: the currency between the restorer, the guard, the CLI and evaluation."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["Edit", "Restoration", "apply_edits"]


@dataclass(frozen=True)
class Edit:
    """``input[start:end]`` (the spun text ``spun``) is restored to ``restored``, which stands
    at ``output[out_start:out_end]`` of the restored text (character offsets; None until a
    :class:`Restoration` places the edit).

    ``score`` is how sure the restorer is, copy bonus subtracted (higher is surer; > 0 for an
    edit taken): for the fast core, how much its decoder prefers the output to the same output
    with this edit undone (nats); for a calibrated search, the log-odds that the edit is right.
    ``prior``: the candidate index's prior for this original; ``source``: the synonym source
    that proposed it.
    """

    start: int
    end: int
    spun: str
    restored: str
    score: float
    prior: float = 0.0
    source: str = ""
    out_start: int | None = None
    out_end: int | None = None

    def shifted(self, offset: int) -> "Edit":
        """The same edit with input offsets moved by ``offset`` (sentence → document offsets);
        its output span is left to the :class:`Restoration` that holds it."""
        return Edit(self.start + offset, self.end + offset, self.spun, self.restored,
                    self.score, self.prior, self.source)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Restoration:
    """A restored document: the input, the output and the edits that map one to the other."""

    input: str
    edits: list[Edit] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Sort the edits and give each its span in the output."""
        placed, shift = [], 0
        for e in sorted(self.edits, key=lambda e: e.start):
            start = e.start + shift
            placed.append(replace(e, out_start=start, out_end=start + len(e.restored)))
            shift += len(e.restored) - (e.end - e.start)
        self.edits = placed

    @property
    def text(self) -> str:
        """The restored text: the input with every edit applied, byte-identical elsewhere."""
        return apply_edits(self.input, self.edits)

    def output_offset(self, pos: int) -> int:
        """Where input offset ``pos`` (outside every edit, or at an edit's edge) lands in the
        output."""
        return pos + sum(len(e.restored) - (e.end - e.start) for e in self.edits if e.end <= pos)

    def input_offset(self, pos: int) -> int:
        """Where output offset ``pos`` (outside every restored span, or at its edge) stands in
        the input: :meth:`output_offset` inverted."""
        return pos - sum(len(e.restored) - (e.end - e.start) for e in self.edits
                         if e.out_end <= pos)

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "text": self.text, "edits": [e.to_dict() for e in self.edits]}


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits to ``text``; raises ValueError when the edits do not fit it."""
    out, pos = [], 0
    for e in sorted(edits, key=lambda e: e.start):
        if e.start < pos or e.end > len(text) or text[e.start:e.end] != e.spun:
            raise ValueError(f"edit {e} does not fit the text at {e.start}:{e.end}")
        out += [text[pos:e.start], e.restored]
        pos = e.end
    out.append(text[pos:])
    return "".join(out)
