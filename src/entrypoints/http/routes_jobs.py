"""/v1/jobs: submit, read, list and cancel generation jobs."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from application.commands import ListJobsQuery, SubmitJob
from application.principal import Principal
from application.use_cases.cancel_job import CancelJob
from application.use_cases.get_job import GetJob
from application.use_cases.list_jobs import ListJobs
from application.use_cases.submit_generation import SubmitGeneration
from domain.errors import InvalidRequest
from entrypoints.http.schemas import ErrorBody, JobCreate, JobCreated, JobOut, JobPageOut
from entrypoints.http.middleware_idempotency import idempotent_job_id
from entrypoints.http.views import balance_out, job_out
from entrypoints.settings import Settings

INSUFFICIENT = {402: ResponseSpec(ErrorBody, description="Credits do not cover the estimate; "
                                  "`error.balance` holds the balance and nothing was created")}
NOT_FOUND = {404: ResponseSpec(ErrorBody, description="No such job of the caller's")}
FINISHED = {409: ResponseSpec(ErrorBody, description="The job has already finished")}


def project_of(principal: Principal, asked: str | None) -> str | None:
    """A project-scoped key decides the project; another key may name one of the user's projects
    (checked by the use case). A scoped key naming another project is refused."""
    if principal.project_id is None:
        return asked
    if asked is not None and asked != principal.project_id:
        raise InvalidRequest("projectId", f"this API key is scoped to project {principal.project_id}")
    return principal.project_id


class JobsController(Controller):
    path = "/v1/jobs"
    tags = ["jobs"]

    @post("/", status_code=201, summary="Submit a generation job", responses=INSUFFICIENT,
          description="Validates, reserves the estimated credits and queues the job; 402 when "
                      "the balance does not cover it, with nothing created.")
    async def submit(self, request: Request[Any, Any, Any], data: JSONBody[JobCreate],
                     principal: NamedDependency[Principal],
                     submit_job: NamedDependency[SubmitGeneration],
                     settings: NamedDependency[Settings]) -> JobCreated:
        result = await submit_job(SubmitJob(
            job_id=idempotent_job_id(request.scope),  # type: ignore[arg-type]
            user_id=principal.user_id, prompt=data.prompt, model=data.model or settings.default_model,
            size=data.size, n=data.n, seed=data.seed, project_id=project_of(principal, data.project_id),
            parent_job_id=data.parent_job_id, input_image_ids=tuple(data.input_image_ids),
            mask_image_id=data.mask_image_id))
        return JobCreated(id=result.job.id, status=result.job.status.value, model=result.job.model,
                          estimated_credits=result.job.estimated_credits,
                          balance=balance_out(result.balance), created_at=result.job.created_at)

    @get("/{job_id:str}", summary="One job, with progress and queue position", responses=NOT_FOUND)
    async def read(self, job_id: FromPath[str], principal: NamedDependency[Principal],
                   get_job: NamedDependency[GetJob], job_previews: NamedDependency[Any],
                   storage: NamedDependency[Any], settings: NamedDependency[Settings]) -> JobOut:
        view = await get_job(principal.user_id, job_id)
        preview = await job_previews.current(view.job)  # ADR 0072: live streaming jobs only
        url = storage.url_for(preview.key, expires_in_s=settings.image_url_ttl_s) if preview else None
        return job_out(view.job, queue_position=view.queue_position, images=view.images,
                       eta_seconds=view.eta_seconds, preview_url=url)

    @get("/", summary="The caller's jobs, newest first")
    async def list_jobs_route(
        self, principal: NamedDependency[Principal], list_jobs: NamedDependency[ListJobs],
        status: Annotated[str | None, QueryParameter(description="only jobs in this status")] = None,
        limit: Annotated[int, QueryParameter(description="page size, 1-100")] = 20,
        cursor: Annotated[str | None, QueryParameter(description="nextCursor of the page before")] = None,
    ) -> JobPageOut:
        page = await list_jobs(ListJobsQuery(user_id=principal.user_id, status=status, limit=limit,
                                             cursor=cursor))
        return JobPageOut(items=[job_out(j) for j in page.items], next_cursor=page.next_cursor)

    @post("/{job_id:str}/cancel", status_code=200, summary="Cancel a queued or running job",
          responses={**NOT_FOUND, **FINISHED},
          description="Releases the reserved credits; 409 when the job already finished.")
    async def cancel(self, job_id: FromPath[str], principal: NamedDependency[Principal],
                     cancel_job: NamedDependency[CancelJob]) -> JobOut:
        return job_out(await cancel_job(principal.user_id, job_id))
