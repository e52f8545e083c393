"""An ARQ worker run in the test's own process until its queue is empty (arq's own tests' habit)."""

from typing import Any, cast

from arq.typing import WorkerSettingsBase
from arq.worker import Worker, get_kwargs

from src.parts import Parts
from src.settings import Settings
from src.tasks import worker_settings
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.notifier import Notifier


async def run_burst_worker(
    settings: Settings, worker_class: type[Worker] | None = None, notifier: Notifier | None = None, **overrides: Any
) -> Worker:
    """Run the worker ``settings`` call for (with the parts they choose: ARQ's own, or the fast path's) until the
    queue is empty.

    ``worker_class`` overrides its class; its tasks report to ``notifier``, by default the consumer's
    (through the channel layer the test's app registered).
    """
    arq_settings = worker_settings(settings)
    parts: Parts = arq_settings.ctx["parts"]

    async def startup(ctx: dict[str, Any]) -> None:
        """The worker's start-up in a process whose app already registered the channel layer."""
        ctx["notifier"] = notifier if notifier is not None else consumer_notifier()

    worker = (worker_class or parts.worker_class)(
        **{
            **get_kwargs(cast(type[WorkerSettingsBase], arq_settings)),
            **overrides,
            "on_startup": startup,
            "on_shutdown": None,
            "burst": True,
            "poll_delay": 0,
            "handle_signals": False,
        }
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker
