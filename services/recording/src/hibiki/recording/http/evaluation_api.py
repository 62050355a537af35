"""Quality evaluation over HTTP (REC-05): score forms, a recording's evaluations, scores per agent
over time. Checked by ``domain.access`` (forms: recording-admin; scoring: recording-admin or a
supervisor with recording-viewer; reading: the recording roles); a scoring is an audit row.

    GET  /api/v1/tenants/{tenant}/evaluation-forms
    PUT  /api/v1/tenants/{tenant}/evaluation-forms/{form_id}
    GET  /api/v1/tenants/{tenant}/recordings/{recording_id}/evaluations
    POST /api/v1/tenants/{tenant}/recordings/{recording_id}/evaluations
    GET  /api/v1/tenants/{tenant}/evaluation-scores?by=day|week|month&agent&from&to
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.recording.domain import evaluation
from hibiki.recording.http.common import PREFIX, Recorder, Refused, claims_of, guard, json_body, model
from hibiki.recording.http.schemas import (CriterionIn, EvaluationIn, EvaluationOut, EvaluationsOut, FormIds, FormIn,
                                           FormOut, FormsOut, Ids, PeriodOut, ScoresOut, ScoresQuery, TenantId)
from hibiki.recording.index import evaluations
from hibiki.recording.index.recordings import Store as IndexStore

log = get_logger("hibiki.recording.evaluation")


def _form_out(f: evaluation.Form) -> FormOut:
    return FormOut(form_id=f.form_id, name=f.name, scale=f.scale,
                   criteria=[CriterionIn(id=c.id, label=c.label, weight=c.weight) for c in f.criteria])


def _evaluation_out(e: evaluations.Evaluation) -> EvaluationOut:
    return EvaluationOut(evaluation_id=e.evaluation_id, recording_id=e.recording_id, agent_id=e.agent_id,
                         queue_id=e.queue_id, at=e.at, evaluator=e.evaluator, form_id=e.form_id,
                         form_name=e.form_name, scale=e.scale, scores=dict(zip(e.criteria, e.scores, strict=True)),
                         weights=dict(zip(e.criteria, e.weights, strict=True)), total=e.total, comment=e.comment)


class EvaluationApi:
    def __init__(self, index: IndexStore, record: Recorder) -> None:
        self._index, self._record = index, record

    async def forms(self, request: Request, tenant: str) -> Response:
        found = await asyncio.to_thread(evaluations.forms, self._index, tenant)
        return JSONResponse(FormsOut(forms=[_form_out(f) for f in found]).model_dump(mode="json"))

    async def put_form(self, request: Request, tenant: str) -> Response:
        body: FormIn = await json_body(request, FormIn)
        form = evaluation.form(request.path_params["form_id"], body.name, body.scale,
                               [(c.id, c.label, c.weight) for c in body.criteria])
        who = claims_of(request).subject
        await asyncio.to_thread(evaluations.put_form, self._index, tenant, form, datetime.now(UTC), who)
        log.info("evaluation_form_saved", tenant=tenant, form_id=form.form_id, actor=who)
        return JSONResponse(_form_out(form).model_dump(mode="json"))

    async def of_recording(self, request: Request, tenant: str) -> Response:
        found = await self._record.found(tenant, request.path_params["recording_id"])
        rows = await asyncio.to_thread(evaluations.of_recording, self._index, tenant, found.recording.recording_id)
        return JSONResponse(EvaluationsOut(evaluations=[_evaluation_out(e) for e in rows]).model_dump(mode="json"))

    async def score(self, request: Request, tenant: str) -> Response:
        body: EvaluationIn = await json_body(request, EvaluationIn)
        found = await self._record.found(tenant, request.path_params["recording_id"])
        form = await asyncio.to_thread(evaluations.get_form, self._index, tenant, body.form_id)
        if form is None:
            raise Refused(422, "unknown-form", "no such score form", field="form_id")
        values, total = evaluation.scored(form, body.scores)
        r = found.recording
        e = evaluations.Evaluation(
            tenant=tenant, agent_id=r.agent_id, at=datetime.now(UTC), evaluation_id=str(uuid.uuid4()),
            recording_id=r.recording_id, call_id=r.call_id, queue_id=r.queue_id, form_id=form.form_id,
            form_name=form.name, scale=form.scale, criteria=[c.id for c in form.criteria],
            weights=[c.weight for c in form.criteria], scores=values, total=total,
            evaluator=claims_of(request).subject, comment=evaluation.comment(body.comment))
        await asyncio.to_thread(evaluations.add, self._index, e)
        await self._record(request, tenant, "evaluate", r.recording_id, f"{form.form_id} {total}")
        log.info("recording_evaluated", tenant=tenant, call_uuid=r.leg_uuid, recording_id=r.recording_id,
                 agent_id=r.agent_id, total=total, evaluator=e.evaluator)
        return JSONResponse(_evaluation_out(e).model_dump(mode="json"), status_code=201)

    async def scores(self, request: Request, tenant: str) -> Response:
        q: ScoresQuery = model(ScoresQuery, dict(request.query_params))
        rows = await asyncio.to_thread(evaluations.over_time, self._index, tenant, q.by, q.agent, q.start, q.end)
        return JSONResponse(ScoresOut(by=q.by, periods=[PeriodOut(**vars(p)) for p in rows]).model_dump(mode="json"))

    def routes(self) -> list[ApiRoute]:
        read, write = errors(403, 404, 422, 503), errors(400, 403, 404, 422, 503)
        forms = f"{PREFIX}/evaluation-forms"
        scored = f"{PREFIX}/recordings/{{recording_id}}/evaluations"
        tags = ["evaluation"]
        return [
            ApiRoute(forms, guard("scores", TenantId, self.forms), "GET", Operation(
                "The tenant's score forms", response=FormsOut, path=TenantId, errors=read, tags=tags)),
            ApiRoute(f"{forms}/{{form_id}}", guard("forms", FormIds, self.put_form), "PUT", Operation(
                "Create or change a score form (criteria, weights, scale)", body=FormIn, response=FormOut,
                path=FormIds, errors=write, tags=tags)),
            ApiRoute(scored, guard("scores", Ids, self.of_recording), "GET", Operation(
                "A recording's evaluations", response=EvaluationsOut, path=Ids, errors=read, tags=tags)),
            ApiRoute(scored, guard("evaluate", Ids, self.score), "POST", Operation(
                "Score a recording with a form (every criterion 1..scale, a comment)", body=EvaluationIn,
                response=EvaluationOut, ok=201, path=Ids, errors=write, tags=tags)),
            ApiRoute(f"{PREFIX}/evaluation-scores", guard("scores", TenantId, self.scores), "GET", Operation(
                "Each agent's evaluation totals per day, week or month", response=ScoresOut, query=ScoresQuery,
                path=TenantId, errors=read, tags=tags)),
        ]
