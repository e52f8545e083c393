"""No job can end a worker: jobs whose text UTF-8 cannot carry (put on ARQ's queue past the socket, which refuses
them) end as their results, with each lone surrogate shown as U+FFFD, and the worker goes on to the next job.

In-process, with each worker class the settings can choose (ARQ's ``Worker``, and the fast path's
``BatchClaimWorker``); ``test_hostile_jobs_in_a_worker_process`` does the same with both worker commands.
"""

import pytest
from arq import ArqRedis
from arq.jobs import Job, JobStatus
from arq.worker import Worker
from chanx.fast_channels.testing import WebsocketCommunicator

from src.fastpath.batch_claim_worker import BatchClaimWorker
from src.settings import Settings
from tests.support.burst_worker import run_burst_worker
from tests.support.communicator import receive_but_progress
from tests.support.log_lines import log_lines
from tests.support.protocol import job_status

WORKER_CLASSES = {"arq": Worker, "fast path": BatchClaimWorker}


@pytest.mark.parametrize("worker_class", WORKER_CLASSES.values(), ids=WORKER_CLASSES)
async def test_jobs_holding_lone_surrogates_finish_as_results_and_the_worker_runs_the_next_job(
    worker_class: type[Worker], ws: WebsocketCommunicator, settings: Settings, pool: ArqRedis
) -> None:
    channel = "asgi.specific.nobody!listens"
    await pool.enqueue_job("default", "default_c1", "bad \ud800 content", channel, _job_id="default_c1")
    await pool.enqueue_job("generate", "generate_c2", "\udfff", channel, _job_id="generate_c2")
    await pool.enqueue_job("default", "default_c3", "ok", "asgi.specific.no\udbffbody", _job_id="default_c3")
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    job_id = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    await ws.receive_json_from(timeout=2)

    fast = settings.model_copy(update={"fast_path": worker_class is BatchClaimWorker})
    worker = await run_burst_worker(fast, worker_class=worker_class)

    assert (worker.jobs_complete, worker.jobs_failed) == (4, 0)
    assert await receive_but_progress(ws) == job_status(
        "result", job_id, "translate", "🌍 Translated: 'hello' → 'hola'"
    )
    stored = {job: await Job(job, pool).result(timeout=1) for job in ("default_c1", "generate_c2", "default_c3")}
    assert stored["default_c1"]["result"] == "✅ Processed: BAD \ufffd CONTENT"
    assert stored["generate_c2"]["result"].startswith("🤖 AI Response to '\ufffd':")
    assert stored["default_c3"]["result"] == "✅ Processed: OK"
    assert [await Job(job, pool).status() for job in stored] == [JobStatus.complete] * 3


async def test_the_fast_paths_worker_logs_an_outcome_it_cannot_publish_in_its_finish_and_sends_it_the_usual_way(
    ws: WebsocketCommunicator, settings: Settings, pool: ArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    await pool.enqueue_job("default", "default_c4", "ok", "asgi.specific.no\udbffbody", _job_id="default_c4")

    worker = await run_burst_worker(settings.model_copy(update={"fast_path": True}), worker_class=BatchClaimWorker)

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    finish = [line for line in log_lines(caplog, "src.fastpath.batch_claim_worker") if "cannot be published" in line]
    assert finish == [
        "[error ] a job's outcome cannot be published in its finish "
        "error=\"UnicodeEncodeError('utf-8', 'asgi.specific.no\\\\udbffbody', 16, 17, 'surrogates not allowed')\" "
        "job_id=default_c4"
    ]
    delivered = [line for line in log_lines(caplog, "src.worker_side.notifier") if "could not deliver" in line]
    assert delivered[0].startswith("[error ] could not deliver job outcome job_id=default_c4 status=result")
