"""Edits as data: the currency between the restorer, the guard, the CLI and evaluation."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .text import sentence_spans

__all__ = ["Alternative", "Edit", "Restoration", "apply_edits"]


@dataclass(frozen=True)
class Alternative:
    """Another original the restorer weighed for an edit's span: ``text``, with ``score`` on
    the edit's own scale (how much better than leaving the span as written)."""

    text: str
    score: float


@dataclass(frozen=True)
class Edit:
    """``input[start:end]`` (the spun text ``spun``) is restored to ``restored``, which stands
    at ``output[out_start:out_end]`` of the restored text (character offsets; None until a
    :class:`Restoration` places the edit).

    ``score`` is how sure the restorer is, copy bonus subtracted (higher is surer; > 0 for an
    edit taken), on the scale that ``scorer`` names: ``"fast"``, the fast core's *margin*, how
    much its decoder prefers the output to the same output with this edit undone (nats);
    ``"search"``, the search core's gain in calibrated log-odds that the output is right
    (nats of log-odds); ``""``, no scale (a baseline's 0). The accurate profile returns both
    kinds in one result, so compare scores only between edits of the same ``scorer``.
    ``prior``: the candidate index's prior for this original; ``source``: the synonym source
    that proposed it; ``alternatives``: the runner-up originals for the same span, best first
    (the fast core's shortlist; empty where the restorer keeps none, as the search core, and
    so the accurate profile's ``"search"`` edits, does).
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
    alternatives: tuple[Alternative, ...] = ()
    scorer: str = ""

    def shifted(self, offset: int) -> "Edit":
        """The same edit with input offsets moved by ``offset`` (sentence → document offsets);
        its output span is left to the :class:`Restoration` that holds it."""
        return replace(self, start=self.start + offset, end=self.end + offset,
                       out_start=None, out_end=None)

    def to_dict(self) -> dict[str, Any]:
        """All fields (alternatives as ``{"text", "score"}`` dicts)."""
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
        """``{"input", "text", "edits"}`` with every field of every edit."""
        return {"input": self.input, "text": self.text, "edits": [e.to_dict() for e in self.edits]}

    def matches(self) -> list[dict[str, Any]]:
        """The edits in the shape of LanguageTool's ``matches``: per edit ``offset`` and
        ``length`` (characters into :attr:`input`: Python's Unicode code points, where
        LanguageTool, Java and JavaScript count UTF-16 units, two for a character beyond the
        Basic Multilingual Plane such as an emoji), ``spun``, ``restored``, ``score``,
        ``scorer`` (the score's scale, see :class:`Edit`), ``alternatives`` (``[{"text",
        "score"}]``), ``source`` and ``sentence`` (the input sentence that holds it, as
        :func:`despin.text.sentence_spans` cuts it)."""
        spans = sentence_spans(self.input) if self.edits else []
        out = []
        for e in self.edits:
            a, b = next(((a, b) for a, b in spans if a <= e.start < b), (e.start, e.end))
            out.append({"offset": e.start, "length": e.end - e.start, "spun": e.spun,
                        "restored": e.restored, "score": e.score, "scorer": e.scorer,
                        "alternatives": [asdict(x) for x in e.alternatives],
                        "source": e.source, "sentence": self.input[a:b]})
        return out

    def diff(self, left: str = "[", arrow: str = "→", right: str = "]") -> str:
        """The input with each edit marked inline, e.g. ``[navy→military]``; the rest as is."""
        return apply_edits(self.input, [replace(e, restored=f"{left}{e.spun}{arrow}{e.restored}"
                                                           f"{right}") for e in self.edits])


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
