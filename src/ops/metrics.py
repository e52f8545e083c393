"""The web app's Prometheus metrics (``GET /metrics``), on a registry of the app's own.

Names follow Prometheus' conventions: a ``background_jobs_`` prefix, base units (``_seconds``), and
counters exposed with ``_total``. The README lists each with its meaning.
"""

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Seconds: from a job's frame to its outcome (jobs of 0 to 4 s of work, plus queueing), and one enqueue.
OUTCOME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 20.0, 60.0)
ENQUEUE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class WebMetrics:
    """What one server counts: its sockets and the handshakes it refuses, the frames they send, the jobs they queue
    and the outcomes they get."""

    def __init__(self, sockets_open: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sockets_open = Gauge(
            "background_jobs_sockets_open", "WebSocket connections this server holds open", registry=self.registry
        )
        self.sockets_open.set_function(sockets_open)
        self.sockets_refused = Counter(
            "background_jobs_sockets_refused",
            "WebSocket handshakes refused, by reason (host, origin, token, capacity, client_sockets, "
            "queue_unavailable, user_sockets)",
            ["reason"],
            registry=self.registry,
        )
        self.frames_received = Counter(
            "background_jobs_frames_received",
            "Frames received from clients, by action (invalid: not a frame of the protocol)",
            ["action"],
            registry=self.registry,
        )
        self.jobs_queued = Counter(
            "background_jobs_jobs_queued", "Jobs put on ARQ's queue, by type", ["job_type"], registry=self.registry
        )
        self.jobs_refused = Counter(
            "background_jobs_jobs_refused",
            "Jobs not queued, by reason (content_too_long, too_many_in_flight, too_many_for_user, queue_full, "
            "queue_unavailable, replicas_unavailable)",
            ["reason"],
            registry=self.registry,
        )
        self.outcomes = Counter(
            "background_jobs_outcomes",
            "Job outcomes sent to their sockets, by type and status (result, error, cancelled)",
            ["job_type", "status"],
            registry=self.registry,
        )
        self.outcome_latency = Histogram(
            "background_jobs_outcome_latency_seconds",
            "Seconds from a job's frame to its outcome's frame on the same socket",
            ["job_type"],
            buckets=OUTCOME_BUCKETS,
            registry=self.registry,
        )
        self.enqueue_latency = Histogram(
            "background_jobs_enqueue_latency_seconds",
            "Seconds one enqueue took (the job written to Redis, or refused)",
            buckets=ENQUEUE_BUCKETS,
            registry=self.registry,
        )
