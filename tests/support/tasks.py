"""The four tasks by job type, the ``ctx`` a worker's start-up gives them, a task of the test's own making, and the
event a task's outcome reaches its socket's channel as, for tests that call tasks directly."""

from collections.abc import Awaitable, Callable
from typing import Any

from arq import ArqRedis

from src.settings import Settings
from src.tasks import analyze, default, generate, translate
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.progress_reporter import Progress
from src.worker_side.reporting import reporting

TASKS = {task.__name__: task for task in (translate, analyze, generate, default)}


def worker_ctx(settings: Settings, redis: ArqRedis | None = None) -> dict[str, Any]:
    """The ``ctx`` the worker's startup builds, minus ARQ's own keys: the tasks report to the consumer's sockets.
    With ``redis``, ARQ's pool is there too, under the key ARQ puts it under."""
    ctx: dict[str, Any] = {"settings": settings, "notifier": consumer_notifier()}
    if redis is not None:
        ctx["redis"] = redis
    return ctx


async def run_reported(
    ctx: dict[str, Any], job_type: str, job_id: str, channel_name: str, body: Callable[[Progress], Awaitable[str]]
) -> dict[str, Any]:
    """Run ``body`` as a task of ``job_type`` runs its work (inside ``reporting``): its text is the job's result."""
    async with reporting(ctx, job_type, job_id, channel_name) as job:
        job.result = await body(job.progress)
    return job.reply()


def result_event(status: str, job_id: str, job_type: str, message: str) -> dict[str, Any]:
    """The channel-layer message chanx's ``send_event`` delivers for a job outcome."""
    return {
        "type": "handle_channel_event",
        "event_data": {
            "action": "job_result",
            "payload": {"status": status, "job_id": job_id, "job_type": job_type, "message": message},
        },
    }
