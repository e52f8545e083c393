"""The floor: the same WebSocket protocol with nothing but the architecture (``../shared/peers/floor``), measured beside
ours.

Its stack is started as its own ``run_bench.sh`` starts it: ``python worker.py`` and ``python server.py --host
127.0.0.1 --port <port>``, both from its folder, on the stack's private Redis with ``JOB_TIME_SCALE=0``. Its server is
websockets' sans-I/O protocol, not uvicorn: it takes no flags of ours and declines permessage-deflate itself (it
configures no extension). It runs in a venv of its own, made on first use from its ``requirements.txt``.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import redis
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from bench.peer import CACHE_DIR, PROJECT_ROOT, PeerProcess, folder_python, peer_env, venv_versions
from bench.stack import COMMON_SETTINGS, Stack, StackProcess
from tests.support.redis_provider import free_port

#: The configuration's name on the command line and in the figures.
FLOOR = "floor"
DEFAULT_FLOOR_DIR = PROJECT_ROOT.parent / "shared" / "peers" / "floor"
#: Where the floor's venv is made (outside the repository), unless ``--floor-python`` names a python.
FLOOR_VENV = CACHE_DIR / "floor-venv"
#: The files without which the folder is not the floor.
FLOOR_FILES = ("requirements.txt", "server.py", "worker.py")
#: The floor venv's packages whose versions the figures record, and under which key.
FLOOR_VERSION_KEYS = {
    "websockets": "websockets_version",
    "uvloop": "uvloop_version",
    "orjson": "orjson_version",
    "hiredis": "hiredis_version",
}
#: What the figures record about the floor's server, which is not uvicorn and takes none of uvicorn's flags.
FLOOR_SERVER_SETTINGS = {
    "server": "websockets sans-I/O ServerProtocol on asyncio.Protocol (server.py), uvloop",
    "permessage_deflate": "declined by the server itself (it configures no extension)",
}
#: The Redis command the floor's worker waits in, for jobs: it is ready once it is blocked there.
WORKER_WAIT = "blmpop"
#: Seconds the readiness probes give a connection and an answer.
PROBE_TIMEOUT = 1.0


@dataclass(frozen=True)
class Floor:
    """Where the floor's code is and which python runs it."""

    directory: Path
    python: Path

    def settings(self) -> dict[str, str]:
        """What the figures record about the floor: its folder, its python, its server, its packages' versions."""
        base = {**COMMON_SETTINGS, "floor_dir": str(self.directory), "python": str(self.python)}
        return base | FLOOR_SERVER_SETTINGS | venv_versions(self.python, FLOOR_VERSION_KEYS)


def find_floor(directory: Path, python: Path | None) -> Floor:
    """The floor in ``directory``, run by ``python`` or by its cached venv (made now if needed)."""
    return Floor(directory.resolve(), folder_python(FLOOR, directory, FLOOR_FILES, python, FLOOR_VENV))


def floor_env(redis_url: str) -> dict[str, str]:
    """The peer's environment (ours without its settings, its Redis, zero-work jobs) without the floor's own knobs."""
    return {name: value for name, value in peer_env(redis_url).items() if not name.startswith("FLOOR_")}


def worker_waiting(redis_url: str) -> bool:
    """Whether a client of the stack's Redis is blocked in ``BLMPOP``: the floor's worker, waiting for jobs."""
    client = redis.Redis.from_url(redis_url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)
    try:
        clients = client.client_list()
    except redis.RedisError:
        return False
    finally:
        client.close()
    return isinstance(clients, list) and any(entry.get("cmd") == WORKER_WAIT for entry in clients)


def says_connected(ws_url: str) -> bool:
    """Whether the server at ``ws_url`` completes a WebSocket handshake and sends its ``connected`` frame."""
    try:
        with connect(ws_url, open_timeout=PROBE_TIMEOUT, proxy=None, compression=None) as ws:
            frame = json.loads(ws.recv(timeout=PROBE_TIMEOUT))
    except (OSError, TimeoutError, WebSocketException, ValueError):
        return False
    payload = frame.get("payload") if isinstance(frame, dict) else None
    return isinstance(payload, dict) and payload.get("status") == "connected"


class FloorStack(Stack):
    """The floor's Redis, worker and server; measured as our stacks are (pids, logs, CPU)."""

    def __init__(self, floor: Floor, log_dir: Path) -> None:
        super().__init__(FLOOR, {}, log_dir)
        self.floor = floor
        self.settings = floor.settings()

    def _processes(self, redis_url: str) -> tuple[StackProcess, StackProcess, str]:
        env, python, cwd = floor_env(redis_url), str(self.floor.python), self.floor.directory
        port = free_port()
        ws_url = f"ws://127.0.0.1:{port}/ws/background_jobs"
        worker = PeerProcess("worker", [python, "worker.py"], env, cwd, lambda: worker_waiting(redis_url), owner=FLOOR)
        server = PeerProcess(
            "server",
            [python, "server.py", "--host", "127.0.0.1", "--port", str(port)],
            env,
            cwd,
            lambda: says_connected(ws_url),
            owner=FLOOR,
        )
        return worker, server, ws_url
