"""The embedded profile's preview index: a dict (the worker runs inside the API process)."""

from __future__ import annotations

from application.ports import PreviewIndex
from domain.previews import JobPreview


class InMemoryPreviewIndex(PreviewIndex):
    def __init__(self) -> None:
        self._previews: dict[str, JobPreview] = {}

    async def put(self, preview: JobPreview) -> None:
        self._previews[preview.job_id] = preview

    async def get(self, job_id: str) -> JobPreview | None:
        return self._previews.get(job_id)

    async def delete(self, job_id: str) -> JobPreview | None:
        return self._previews.pop(job_id, None)
