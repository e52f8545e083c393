"""The tables of ``docs/operating.md`` ("Health, readiness, metrics") list every metric the server and the worker
expose, as a scrape names them."""

from pathlib import Path

from prometheus_client import CollectorRegistry

from src.ops.metrics import WebMetrics
from src.ops.worker_metrics import WorkerMetrics

OPERATING = (Path(__file__).parents[3] / "docs" / "operating.md").read_text(encoding="utf-8")


def scraped_names(registry: CollectorRegistry) -> set[str]:
    """Each metric's name as a scrape shows it (a counter's with ``_total``)."""
    return {family.name + ("_total" if family.type == "counter" else "") for family in registry.collect()}


def test_every_metric_of_the_server_and_the_worker_is_a_row_of_the_operating_docs_tables() -> None:
    names = scraped_names(WebMetrics(sockets_open=lambda: 0).registry) | scraped_names(WorkerMetrics().registry)

    missing = sorted(name for name in names if f"| `{name}`" not in OPERATING and f"| `{name}{{" not in OPERATING)

    assert len(names) == 13
    assert missing == []
