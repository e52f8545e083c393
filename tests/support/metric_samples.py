"""The samples an app's ``/metrics`` shows, read in-process."""

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

#: (metric name, its labels sorted) → value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def metric_samples(app: Any) -> Samples:
    """Every sample the app's ``/metrics`` shows now."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        text = (await client.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


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
