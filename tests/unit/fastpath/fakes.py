"""The fast path's worker pool on fakeredis, for its unit tests."""

from fakeredis import FakeServer

from src.fastpath.wakeable_pool import WakeableArqRedis
from tests.support.fake_arq import fake_arq_pool


def fake_worker_pool(server: FakeServer, wait: float, queue: str = "arq:queue") -> WakeableArqRedis:
    """The worker's wakeable pool on ``server``, waiting up to ``wait`` seconds for a wake-up on ``<queue>:wake``."""
    connections = fake_arq_pool(server).connection_pool
    return WakeableArqRedis(connections, wake_channel=f"{queue}:wake", wait=wait, default_queue_name=queue)
