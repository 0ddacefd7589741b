"""The one log line per processed job, at error level when an operator must act (ADR 0071)."""

from __future__ import annotations

from typing import Any

from domain.failures import ErrorClass
from domain.jobs import JobState, JobStatus


def log_processed(log: Any, state: JobState) -> None:
    """`job.processed`; error level for a failure an operator must fix (a retired model, a
    rejected key, our account out of quota), info otherwise."""
    known = {c.value for c in ErrorClass}
    fault = (state.status is JobStatus.FAILED and state.error_class in known
             and ErrorClass(str(state.error_class)).operator_fault)
    emit = log.error if fault else log.info
    emit("job.processed", status=state.status.value, user_id=state.user_id, model=state.model,
         attempts=state.attempts, error_class=state.error_class,
         **({"operator_action": "check the catalog and keys: imagegen models check"}
            if fault else {}))
