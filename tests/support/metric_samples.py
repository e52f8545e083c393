"""The samples a ``/metrics`` page shows: parsed from its text, or read from an app in-process."""

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

#: (metric name, its labels sorted) → value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a Prometheus exposition: (name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def metric_samples(app: Any) -> Samples:
    """Every sample the app's ``/metrics`` shows now."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        return samples((await client.get("/metrics")).text)


def refusals(samples: Samples) -> dict[str, float]:
    """Jobs refused so far, by reason."""
    return {
        dict(labels)["reason"]: value
        for (name, labels), value in samples.items()
        if name == "background_jobs_jobs_refused_total"
    }


def handshakes_refused(samples: Samples) -> dict[str, float]:
    """WebSocket handshakes refused so far, by reason."""
    return {
        dict(labels)["reason"]: value
        for (name, labels), value in samples.items()
        if name == "background_jobs_sockets_refused_total"
    }
