"""ListJobs: the caller's jobs, newest first, with cursor pagination and a status filter."""

from __future__ import annotations

from application.commands import ListJobsQuery
from application.ports import JobPage, UnitOfWorkFactory
from domain.errors import InvalidRequest
from domain.jobs import JobStatus

MAX_PAGE = 100


class ListJobs:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: ListJobsQuery) -> JobPage:
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidRequest("limit", f"must be between 1 and {MAX_PAGE}")
        status = None
        if query.status is not None:
            try:
                status = JobStatus(query.status)
            except ValueError:
                allowed = ", ".join(s.value for s in JobStatus)
                raise InvalidRequest("status", f"unknown status {query.status!r}; one of {allowed}") from None
        async with self._uow() as uow:
            try:
                return await uow.jobs.list_for_user(query.user_id, status=status, limit=query.limit,
                                                    cursor=query.cursor)
            except ValueError:
                raise InvalidRequest("cursor", "is not a cursor this API returned") from None
