"""The web server's metrics as Prometheus shows them: each family's name, type and help, labels and buckets."""

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from src.ops.metrics import WebMetrics


def a_fresh_servers_metrics() -> WebMetrics:
    """A server's metrics holding two sockets, nothing counted yet."""
    return WebMetrics(sockets_open=lambda: 2)


def test_each_metric_is_named_by_prometheus_conventions_with_its_type_and_help() -> None:
    metrics = a_fresh_servers_metrics()

    described = {family.name: (family.type, family.documentation) for family in metrics.registry.collect()}

    assert described == {
        "background_jobs_sockets_open": ("gauge", "WebSocket connections this server holds open"),
        "background_jobs_sockets_refused": (
            "counter",
            "WebSocket handshakes refused, by reason (host, origin, token, capacity, client_sockets, "
            "queue_unavailable, user_sockets)",
        ),
        "background_jobs_frames_received": (
            "counter",
            "Frames received from clients, by action (invalid: not a frame of the protocol)",
        ),
        "background_jobs_jobs_queued": ("counter", "Jobs put on ARQ's queue, by type"),
        "background_jobs_jobs_refused": (
            "counter",
            "Jobs not queued, by reason (content_too_long, too_many_in_flight, too_many_for_user, queue_full, "
            "queue_unavailable, replicas_unavailable)",
        ),
        "background_jobs_outcomes": (
            "counter",
            "Job outcomes sent to their sockets, by type and status (result, error, cancelled)",
        ),
        "background_jobs_outcome_latency_seconds": (
            "histogram",
            "Seconds from a job's frame to its outcome's frame on the same socket",
        ),
        "background_jobs_enqueue_latency_seconds": (
            "histogram",
            "Seconds one enqueue took (the job written to Redis, or refused)",
        ),
    }


def test_each_counted_sample_carries_its_labels_and_the_latencies_fall_in_their_buckets() -> None:
    metrics = a_fresh_servers_metrics()
    metrics.frames_received.labels(action="job").inc()
    metrics.jobs_queued.labels(job_type="translate").inc()
    metrics.jobs_refused.labels(reason="queue_full").inc()
    metrics.outcomes.labels(job_type="translate", status="result").inc()
    metrics.outcome_latency.labels(job_type="translate").observe(0.3)
    metrics.enqueue_latency.observe(0.003)

    families = {
        family.name: family for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
    }

    counted = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for name in ("frames_received", "jobs_queued", "jobs_refused", "outcomes")
        for sample in families[f"background_jobs_{name}"].samples
        if sample.name.endswith("_total")
    }
    assert counted == {
        ("background_jobs_frames_received_total", (("action", "job"),)),
        ("background_jobs_jobs_queued_total", (("job_type", "translate"),)),
        ("background_jobs_jobs_refused_total", (("reason", "queue_full"),)),
        ("background_jobs_outcomes_total", (("job_type", "translate"), ("status", "result"))),
    }
    outcome_buckets = {
        sample.labels["le"]: sample.value
        for sample in families["background_jobs_outcome_latency_seconds"].samples
        if sample.name.endswith("_bucket")
    }
    assert list(outcome_buckets) == [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.0", "3.0", "4.0", "5.0", "7.5", "10.0",
        "20.0", "60.0", "+Inf",
    ]  # fmt: skip
    assert (outcome_buckets["0.25"], outcome_buckets["0.5"]) == (0, 1)
    enqueue_buckets = {
        sample.labels["le"]: sample.value
        for sample in families["background_jobs_enqueue_latency_seconds"].samples
        if sample.name.endswith("_bucket")
    }
    assert list(enqueue_buckets) == [
        "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf",
    ]  # fmt: skip
    assert (enqueue_buckets["0.0025"], enqueue_buckets["0.005"]) == (0, 1)
