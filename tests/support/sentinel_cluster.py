"""A Redis master, a replica and three sentinels on loopback ports, as separate ``redis-server`` processes."""

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis

from tests.support.redis_provider import free_port, wait_until_answers

MASTER_NAME = "jobs"
#: Sentinels agree on a failure, and pick a new master, this fast.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


@dataclass
class SentinelCluster:
    """The processes and their ports; ``sentinels`` is what ``REDIS_SENTINELS`` takes."""

    directory: Path
    master_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}"

    def start(self) -> None:
        self._redis("master", self.master_port)
        self._redis("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        for port in self.sentinel_ports:
            config = self.directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\n"
                "bind 127.0.0.1\n"
                f"dir {self.directory}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self._spawn(f"sentinel-{port}", [str(config), "--sentinel"])
            wait_until_answers(self.url(port))

    def _redis(self, name: str, port: int, *extra: str) -> None:
        self._spawn(
            name,
            [
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                *extra,
            ],
        )
        wait_until_answers(self.url(port))

    def _spawn(self, name: str, args: list[str]) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on the PATH")
        log = self.directory / f"{name}.log"
        self.processes[name] = subprocess.Popen(
            [binary, *args, "--logfile", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def wait_until_sentinels_know_the_replica(self, timeout: float = 30.0) -> None:
        """Until the replica is in sync with the master and every sentinel lists it as up (they learn of it
        from the master's INFO)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._replica_in_sync() and all(self._sees_replica(port) for port in self.sentinel_ports):
                return
            time.sleep(0.2)  # polling processes that settle by themselves: there is no event to wait on
        raise TimeoutError("the replica did not sync, or the sentinels did not learn of it")

    def _replica_in_sync(self, master_port: int | None = None) -> bool:
        client = redis.Redis.from_url(self.url(master_port or self.master_port))
        try:
            replication = cast(dict[str, Any], client.info("replication"))
        finally:
            client.close()
        replica = replication.get("slave0")
        return isinstance(replica, dict) and replica.get("state") == "online"

    def _sees_replica(self, port: int) -> bool:
        client = redis.Redis.from_url(self.url(port), decode_responses=True)
        try:
            replicas = client.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)  # type: ignore[no-untyped-call]
        finally:
            client.close()
        return any(
            str(self.replica_port) in str(replica) and "s_down" not in str(replica) for replica in replicas or []
        )

    def master_addr(self) -> tuple[str, int] | None:
        """Where the first sentinel says the master is now."""
        client = redis.Redis.from_url(self.url(self.sentinel_ports[0]), decode_responses=True)
        try:
            reply = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)  # type: ignore[no-untyped-call]
        except redis.RedisError:
            return None
        finally:
            client.close()
        return None if reply is None else (str(reply[0]), int(reply[1]))

    def revive_old_master(self, timeout: float = 30.0) -> None:
        """Start the killed master again, empty, as a replica of the promoted one, and wait until it is in sync.

        It is started as the replica the sentinels would make it: left to them, a returning old master is
        converted only after it has reported its role for a while, and not at all while a sentinel is in TILT
        (30 s after its loop stalled, as a loaded 2-core machine can make it), which once took longer than this
        timeout in CI.
        """
        self._redis("master", self.master_port, "--replicaof", "127.0.0.1", str(self.replica_port))
        deadline = time.monotonic() + timeout
        while not (self._replica_in_sync(self.replica_port) and self._replica_acknowledges(self.replica_port)):
            if time.monotonic() > deadline:
                raise TimeoutError("the old master did not come back as a replica")
            time.sleep(0.2)  # the sentinels reconfigure it in their own time: nothing to wait on but its state

    def _replica_acknowledges(self, master_port: int) -> bool:
        """Whether a write to the master is acknowledged by a replica within a second (Redis WAIT)."""
        client = redis.Redis.from_url(self.url(master_port))
        try:
            client.set("sentinel-cluster:probe", "1")
            return cast(int, client.wait(1, 1000)) >= 1
        finally:
            client.close()

    def kill_master(self) -> None:
        """SIGKILL the master: no goodbye, no last write."""
        process = self.processes.pop("master")
        process.kill()
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


@contextmanager
def sentinel_cluster() -> Iterator[SentinelCluster]:
    """A running master, replica and three sentinels; all stopped and removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="sentinel-test-"))
    cluster = SentinelCluster(directory)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
