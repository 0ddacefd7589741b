"""/v1/batches (many prompts, or one prompt on many models) and /v1/jobs/{id}/retry."""

from __future__ import annotations

from typing import Any

import msgspec

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from application.principal import Principal
from application.use_cases.get_batch import BatchView, GetBatch
from application.use_cases.retry_job import RetryJob
from application.use_cases.submit_batch import BatchItem, SubmitBatch, SubmitBatchCommand
from domain.batches import BatchKind, summarize
from domain.errors import InvalidRequest
from domain.idempotency import derived_batch_ids
from entrypoints.http.middleware_idempotency import idempotent_job_id
from entrypoints.http.schemas import ErrorBody, JobCreated, Progress
from entrypoints.http.schemas_requests import BatchChild, BatchCreate, BatchOut
from entrypoints.http.views import balance_out
from entrypoints.settings import Settings

ERRORS = {400: ErrorBody, 401: ErrorBody, 402: ErrorBody, 404: ErrorBody, 409: ErrorBody}


def _command(data: BatchCreate, principal: Principal, default_model: str) -> SubmitBatchCommand:
    common = {"user_id": principal.user_id, "size": data.size, "n": data.n, "seed": data.seed,
              "project_id": principal.project_id}
    if data.prompts is not None and data.models is None and data.prompt is None:
        model = data.model or default_model
        return SubmitBatchCommand(kind=BatchKind.PROMPTS, field="prompts",
                                  items=tuple(BatchItem(prompt=p, model=model) for p in data.prompts),
                                  **common)  # type: ignore[arg-type]
    if data.prompt is not None and data.models is not None and data.prompts is None and data.model is None:
        return SubmitBatchCommand(kind=BatchKind.COMPARE, field="models",
                                  items=tuple(BatchItem(prompt=data.prompt, model=m) for m in data.models),
                                  **common)  # type: ignore[arg-type]
    raise InvalidRequest("body", "send either {prompts, model?} or {prompt, models}")


def batch_out(view: BatchView) -> BatchOut:
    s = view.summary
    return BatchOut(
        id=view.batch.id, kind=view.batch.kind.value, status=s.status.value,
        progress_percent=s.progress_percent, counts=s.counts, total=len(view.jobs),
        estimated_credits=sum(j.estimated_credits for j in view.jobs), created_at=view.batch.created_at,
        jobs=[BatchChild(id=j.id, model=j.model, prompt=j.prompt, status=j.status.value,
                         progress=Progress(percent=j.progress_percent, step=j.current_step),
                         estimated_credits=j.estimated_credits, charged_credits=j.charged_credits,
                         retry_of_job_id=j.retry_of_job_id) for j in view.jobs])


@post("/v1/batches", status_code=201, tags=["batches"], summary="Submit a batch or a model comparison",
      description="Reserves credits for every child at once, or for none (402).")
async def create_batch(request: Request[Any, Any, Any], data: JSONBody[BatchCreate],
                       principal: NamedDependency[Principal], submit_batch: NamedDependency[SubmitBatch],
                       settings: NamedDependency[Settings]) -> BatchOut:
    cmd = _command(data, principal, settings.default_model)
    if (job_id := idempotent_job_id(request.scope)) is not None:  # type: ignore[arg-type]
        batch_id, job_ids = derived_batch_ids(job_id, len(cmd.items))
        cmd = msgspec.structs.replace(cmd, batch_id=batch_id, job_ids=job_ids)
    result = await submit_batch(cmd)
    view = BatchView(batch=result.batch, jobs=result.jobs, summary=summarize(result.jobs))
    out = batch_out(view)
    return BatchOut(**{f: getattr(out, f) for f in out.__struct_fields__ if f != "balance"},
                    balance=balance_out(result.balance))


@get("/v1/batches/{batch_id:str}", tags=["batches"], summary="A batch: status, progress, children")
async def read_batch(batch_id: FromPath[str], principal: NamedDependency[Principal],
                     get_batch: NamedDependency[GetBatch]) -> BatchOut:
    return batch_out(await get_batch(principal.user_id, batch_id))


@post("/v1/jobs/{job_id:str}/retry", status_code=201, tags=["jobs"], summary="Retry a failed or cancelled job",
      description="A new job with a new reservation, linked by retryOfJobId; 409 unless failed or "
                  "cancelled. A job has one retry: retrying it again returns that retry.")
async def retry_job_route(job_id: FromPath[str], principal: NamedDependency[Principal],
                          retry_job: NamedDependency[RetryJob]) -> JobCreated:
    result = await retry_job(principal.user_id, job_id)
    return JobCreated(id=result.job.id, status=result.job.status.value, model=result.job.model,
                      estimated_credits=result.job.estimated_credits,
                      balance=balance_out(result.balance), created_at=result.job.created_at)
