"""Quality evaluation (REC-05): a tenant's score forms and a supervisor's scores of a recording.

A form has criteria, each with a weight, and a scale (scores 1..scale). An evaluation scores every
criterion of the form once; its total is the weighted mean on 0..100:

    total = 100 * sum(w_i * (s_i - 1) / (scale - 1)) / sum(w_i)

An evaluation keeps a copy of the criteria and weights it was scored with, so a form changed
later does not change past totals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_CRITERIA = 30
MAX_LABEL = 200
MAX_COMMENT = 2000
SCALES = range(2, 11)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")         # tab and line feed allowed


class BadEvaluation(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Criterion:
    id: str
    label: str
    weight: float


@dataclass(frozen=True)
class Form:
    form_id: str
    name: str
    scale: int
    criteria: tuple[Criterion, ...]


def _text(value: str, field: str, limit: int, *, required: bool = True, lines: bool = False) -> str:
    text = value.strip()
    if not lines and ("\n" in text or "\t" in text):
        raise BadEvaluation(field, f"{field} is one line")
    if required and not text:
        raise BadEvaluation(field, f"{field} is empty")
    if len(text) > limit:
        raise BadEvaluation(field, f"{field} is longer than {limit} characters")
    if _CONTROL.search(text):
        raise BadEvaluation(field, f"{field} has control characters")
    return text


def form(form_id: str, name: str, scale: int, criteria: list[tuple[str, str, float]]) -> Form:
    """A checked form; :class:`BadEvaluation` names the field at fault."""
    if not ID.match(form_id):
        raise BadEvaluation("form_id", "form_id: 1-32 of a-z, 0-9, '_', '-'")
    if scale not in SCALES:
        raise BadEvaluation("scale", f"scale must be {SCALES.start}..{SCALES.stop - 1}")
    if not 1 <= len(criteria) <= MAX_CRITERIA:
        raise BadEvaluation("criteria", f"a form has 1..{MAX_CRITERIA} criteria")
    seen: set[str] = set()
    checked = []
    for n, (cid, label, weight) in enumerate(criteria):
        if not ID.match(cid) or cid in seen:
            raise BadEvaluation(f"criteria.{n}.id", "criterion ids: 1-32 of a-z, 0-9, '_', '-', each once")
        if not 0 < weight <= 100:
            raise BadEvaluation(f"criteria.{n}.weight", "a weight is more than 0 and at most 100")
        seen.add(cid)
        checked.append(Criterion(cid, _text(label, f"criteria.{n}.label", MAX_LABEL), float(weight)))
    return Form(form_id, _text(name, "name", MAX_LABEL), scale, tuple(checked))


def comment(text: str) -> str:
    """A comment: at most MAX_COMMENT characters, line breaks and tabs allowed, no other control character."""
    return _text(text.replace("\r\n", "\n"), "comment", MAX_COMMENT, required=False, lines=True)


def scored(f: Form, scores: dict[str, int]) -> tuple[list[int], float]:
    """The scores in the form's order and the total (0..100); every criterion once, 1..scale."""
    unknown = sorted(set(scores) - {c.id for c in f.criteria})
    if unknown:
        raise BadEvaluation(f"scores.{unknown[0][:32]}", "not a criterion of the form")
    values = []
    for c in f.criteria:
        if c.id not in scores:
            raise BadEvaluation(f"scores.{c.id}", "every criterion is scored")
        value = scores[c.id]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= f.scale:
            raise BadEvaluation(f"scores.{c.id}", f"a score is a whole number 1..{f.scale}")
        values.append(value)
    return values, total(f.scale, [c.weight for c in f.criteria], values)


def total(scale: int, weights: list[float], values: list[int]) -> float:
    weight = sum(weights)
    return round(100 * sum(w * (v - 1) / (scale - 1) for w, v in zip(weights, values, strict=True)) / weight, 2)
