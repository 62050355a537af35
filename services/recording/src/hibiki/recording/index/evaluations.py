"""Reading and writing score forms and evaluations (REC-05) beside the recording index.

Every function is blocking (the store is); callers run them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from hibiki.recording.domain.evaluation import Criterion, Form
from hibiki.recording.index.recordings import Store

PERIODS = {"day": "toStartOfDay", "week": "toMonday", "month": "toStartOfMonth"}
ZONE = "Asia/Tokyo"


@dataclass(frozen=True)
class Evaluation:
    tenant: str
    agent_id: str
    at: datetime
    evaluation_id: str
    recording_id: str
    call_id: str
    queue_id: str
    form_id: str
    form_name: str
    scale: int
    criteria: list[str]
    weights: list[float]
    scores: list[int]
    total: float
    evaluator: str
    comment: str


@dataclass(frozen=True)
class Period:
    agent_id: str
    period: str            # the day, the week's Monday or the month's first day (Asia/Tokyo)
    evaluations: int
    average: float
    lowest: float
    highest: float


def put_form(store: Store, tenant: str, f: Form, at: datetime, by: str) -> None:
    criteria = json.dumps([asdict(c) for c in f.criteria], ensure_ascii=False)
    store.insert("evaluation_forms", [{"tenant": tenant, "form_id": f.form_id, "version": time.time_ns() // 1000,
                                       "name": f.name, "scale": f.scale, "criteria": criteria, "updated_at": at,
                                       "updated_by": by}])


def _form(row: tuple[Any, ...]) -> Form:
    return Form(row[0], row[1], int(row[2]), tuple(Criterion(**c) for c in json.loads(row[3])))


def forms(store: Store, tenant: str) -> list[Form]:
    rows = store.query("SELECT form_id, name, scale, criteria FROM hibiki.evaluation_forms FINAL "
                       "WHERE tenant = %(tenant)s ORDER BY form_id", {"tenant": tenant})
    return [_form(r) for r in rows]


def get_form(store: Store, tenant: str, form_id: str) -> Form | None:
    rows = store.query("SELECT form_id, name, scale, criteria FROM hibiki.evaluation_forms FINAL "
                       "WHERE tenant = %(tenant)s AND form_id = %(form)s", {"tenant": tenant, "form": form_id})
    return _form(rows[0]) if rows else None


def add(store: Store, e: Evaluation) -> None:
    store.insert("evaluations", [asdict(e)])


_COLUMNS = ("tenant, agent_id, at, evaluation_id, recording_id, call_id, queue_id, form_id, form_name, scale, "
            "criteria, weights, scores, total, evaluator, comment")


def of_recording(store: Store, tenant: str, recording_id: str) -> list[Evaluation]:
    rows = store.query(f"SELECT {_COLUMNS} FROM hibiki.evaluations FINAL WHERE tenant = %(tenant)s "
                       "AND recording_id = %(id)s ORDER BY at, evaluation_id", {"tenant": tenant, "id": recording_id})
    return [Evaluation(*r) for r in rows]


def over_time(store: Store, tenant: str, by: str, agent: str | None, start: datetime | None,
              end: datetime | None) -> list[Period]:
    """Each agent's evaluations per day, week or month (Asia/Tokyo): count, mean, lowest, highest total."""
    params: dict[str, Any] = {"tenant": tenant}
    where = ""
    if agent:
        where += " AND agent_id = %(agent)s"
        params["agent"] = agent
    if start is not None:
        where += " AND at >= %(start)s"
        params["start"] = start
    if end is not None:
        where += " AND at < %(end)s"
        params["end"] = end
    rows = store.query(f"SELECT agent_id, toString({PERIODS[by]}(toTimeZone(at, '{ZONE}'))) AS period, count(), "
                       "round(avg(total), 2), min(total), max(total) FROM hibiki.evaluations FINAL "
                       f"WHERE tenant = %(tenant)s{where} GROUP BY agent_id, period ORDER BY agent_id, period "
                       "LIMIT 10000", params)
    return [Period(str(r[0]), str(r[1])[:10], int(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in rows]
