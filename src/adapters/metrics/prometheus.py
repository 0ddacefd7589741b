"""Prometheus metrics on a registry of their own (one per app, so tests can build many).

Counters and the latency histogram are fed from committed job events (`observe_events`, a
fan-out listener); gauges that must agree across processes (jobs by model and status, queue
depth, credits reserved and spent) are read from the database at scrape time (`render`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from adapters.persistence.sqlalchemy.ops_snapshot import OpsSnapshot
from domain.failures import ErrorClass
from domain.jobs import JobStatus, JobStatusChanged

#: The text format every Prometheus (2.x and 3.x) parses; sent verbatim (one charset, ADR 0092).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
_OPERATOR_CLASSES = frozenset(c.value for c in ErrorClass if c.operator_fault)
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_TRACKED = 10_000  # jobs whose generation start is remembered at once


class PrometheusMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.transitions = Counter("imagegen_job_transitions", "Job state changes seen by this process",
                                   ["status"], registry=r)
        self.failures = Counter("imagegen_job_failures", "Failed jobs by error class; operator=true "
                                "for classes an operator must fix (model_unavailable, auth, quota)",
                                ["error_class", "operator"], registry=r)
        self.retries = Counter("imagegen_job_retries", "Jobs sent back to the queue for another attempt",
                               registry=r)
        self.provider_latency = Histogram(
            "imagegen_provider_latency_seconds", "From generating to the next state (provider call)",
            ["outcome"], buckets=_LATENCY_BUCKETS, registry=r)
        self.jobs = Gauge("imagegen_jobs", "Jobs in the database by model and status",
                          ["model", "status"], registry=r)
        self.queue_depth = Gauge("imagegen_queue_depth", "Jobs waiting in status queued", registry=r)
        self.credits_reserved = Gauge("imagegen_credits_reserved", "Credits held by open reservations",
                                      registry=r)
        self.credits_captured = Gauge("imagegen_credits_captured",
                                      "Credits captured (spent) over all time, all accounts", registry=r)
        self.http_requests = Counter("imagegen_http_requests", "HTTP answers by route template and status",
                                     ["method", "route", "status"], registry=r)
        self.http_duration = Histogram("imagegen_http_request_duration_seconds",
                                       "HTTP request handling time by route template", ["method", "route"],
                                       buckets=_HTTP_BUCKETS, registry=r)
        self.provider_calls = Counter("imagegen_provider_calls", "Provider calls by provider, model and outcome "
                                      "(ok, accepted, or the error class)", ["provider", "model", "outcome"],
                                      registry=r)
        self.provider_call_duration = Histogram(
            "imagegen_provider_call_duration_seconds", "Provider call time by provider and model",
            ["provider", "model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_oldest_age = Gauge("imagegen_queue_oldest_age_seconds",
                                      "How long the longest-waiting queued job has waited", registry=r)
        self.reservation_oldest_age = Gauge("imagegen_reservation_oldest_age_seconds",
                                            "Age of the oldest unfinished job, whose credits are held",
                                            registry=r)
        self._generating_since: dict[str, datetime] = {}
        self._last_status: dict[str, JobStatus] = {}

    async def observe_events(self, events: Sequence[JobStatusChanged]) -> None:
        for event in events:
            status = JobStatus(event.status)
            self.transitions.labels(status=status.value).inc()
            if status is JobStatus.FAILED and event.error_class:
                operator = event.error_class in _OPERATOR_CLASSES
                self.failures.labels(error_class=event.error_class,
                                     operator=str(operator).lower()).inc()
            previous = self._last_status.get(event.job_id)
            if status is JobStatus.QUEUED and previous is not None and previous is not JobStatus.QUEUED:
                self.retries.inc()
            started = self._generating_since.pop(event.job_id, None)
            if started is not None and status is not JobStatus.GENERATING:
                outcome = "failed" if status is JobStatus.FAILED else "ok"
                self.provider_latency.labels(outcome=outcome).observe(
                    max(0.0, (event.occurred_at - started).total_seconds()))
            if status is JobStatus.GENERATING:
                self._generating_since[event.job_id] = event.occurred_at
            if status.terminal:
                self._last_status.pop(event.job_id, None)
            else:
                self._last_status[event.job_id] = status
            for table in (self._generating_since, self._last_status):
                while len(table) > _TRACKED:
                    table.pop(next(iter(table)))

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request; `route` is the template (/v1/jobs/{job_id}), never the raw path."""
        self.http_requests.labels(method=method, route=route, status=str(status)).inc()
        self.http_duration.labels(method=method, route=route).observe(seconds)

    def observe_provider_call(self, provider: str, model: str, outcome: str, seconds: float) -> None:
        self.provider_calls.labels(provider=provider, model=model, outcome=outcome).inc()
        self.provider_call_duration.labels(provider=provider, model=model).observe(seconds)

    def render(self, snapshot: OpsSnapshot) -> bytes:
        """The exposition text, with the database figures of `snapshot`."""
        self.jobs.clear()
        for (model, status), count in snapshot.jobs.items():
            self.jobs.labels(model=model, status=status).set(count)
        self.queue_depth.set(sum(n for (_, s), n in snapshot.jobs.items() if s == JobStatus.QUEUED.value))
        self.credits_reserved.set(snapshot.credits_reserved)
        self.credits_captured.set(snapshot.credits_spent)
        now = datetime.now(UTC)
        for gauge, since in ((self.queue_oldest_age, snapshot.oldest_queued_at),
                             (self.reservation_oldest_age, snapshot.oldest_open_at)):
            gauge.set(0 if since is None else max(0.0, (now - since).total_seconds()))
        return generate_latest(self.registry)
