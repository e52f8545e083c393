"""The peer: a server speaking the same WebSocket protocol on SAQ (``../shared/peers/saq``), measured side by side.

Its stack is started as its own ``run_bench.sh`` starts it: a private ``redis-server`` on a free port,
``python -m saq src.tasks.settings`` and ``python -m uvicorn src.main:app`` with the flags every server of the
benchmark gets (``SERVER_FLAGS``: ``--log-level warning``, as ``run_bench.sh`` has it, and permessage-deflate
declined, as ours), both from the peer's folder with ``JOB_TIME_SCALE=0`` and the peer's default settings. It
runs in a venv of its own (SAQ wants redis-py 7, ARQ redis-py < 6), made on first use from its ``requirements.txt``.
"""

import fcntl
import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from bench.stack import COMMON_SETTINGS, SERVER_FLAGS, Stack, StackProcess
from tests.support.processes import READY_TIMEOUT, ManagedProcess, wait_for
from tests.support.redis_provider import free_port

logger = logging.getLogger(__name__)

#: The configuration's name on the command line and in the figures.
PEER = "peer"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PEER_DIR = PROJECT_ROOT.parent / "shared" / "peers" / "saq"
#: Where the peer's venv is made (outside the repository), unless ``--peer-python`` names a python.
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "background-jobs-bench"
PEER_VENV = CACHE_DIR / "peer-venv"
#: The files without which the folder is not the peer.
PEER_FILES = ("requirements.txt", "src/main.py", "src/tasks.py")
#: Written in the venv once its requirements are installed: the hash of what was installed.
MARKER = ".bench-requirements-sha256"
#: The peer's SAQ queue (its default ``SAQ_QUEUE``): a worker is ready once it is in the queue's stats set.
PEER_QUEUE = "background_jobs"
#: Variables that would change the peer's settings or its python's paths: the peer runs with its defaults.
PEER_ENV_DROPPED = ("REDIS_URL", "PORT", "HOST", "RESULT_MODE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
#: The peer venv's packages whose versions the figures record, and under which key.
VERSION_KEYS = {"saq": "saq_version", "redis": "redis_py_version", "uvicorn": "uvicorn_version"}
#: Seconds pip may take to install the peer's requirements.
PIP_TIMEOUT = 900.0


class PeerUnavailable(Exception):
    """The peer cannot be run here (its folder is missing, or its venv could not be made): it is skipped."""


@dataclass(frozen=True)
class Peer:
    """Where the peer's code is and which python runs it."""

    directory: Path
    python: Path

    def settings(self) -> dict[str, str]:
        """What the figures record about the peer's configuration."""
        return {**COMMON_SETTINGS, "peer_dir": str(self.directory), "python": str(self.python)} | self.versions()

    def versions(self) -> dict[str, str]:
        """The peer venv's versions of SAQ, redis-py and uvicorn (empty where they cannot be read)."""
        return venv_versions(self.python, VERSION_KEYS)


def venv_versions(python: Path, keys: Mapping[str, str]) -> dict[str, str]:
    """The versions ``python`` has of the packages named by ``keys``, each under its key (empty if unreadable)."""
    script = f"import importlib.metadata as m\nfor name in {tuple(keys)!r}:\n    print(name, m.version(name))\n"
    try:
        done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {keys[name]: version for name, version in (line.split() for line in done.stdout.splitlines())}


def find_peer(directory: Path, python: Path | None) -> Peer:
    """The peer in ``directory``, run by ``python`` or by the cached venv (made now if needed)."""
    return Peer(directory.resolve(), folder_python(PEER, directory, PEER_FILES, python, PEER_VENV))


def folder_python(name: str, directory: Path, files: Sequence[str], python: Path | None, venv: Path) -> Path:
    """The python that runs configuration ``name`` from ``directory`` (which must hold ``files``): ``python``
    (``--<name>-python``), or ``venv``'s, made from the folder's ``requirements.txt`` if needed."""
    missing = [file for file in files if not (directory / file).is_file()]
    if missing:
        raise PeerUnavailable(f"no {name} at {directory} (missing {', '.join(missing)})")
    if python is not None:
        if not os.access(python, os.X_OK):
            raise PeerUnavailable(f"--{name}-python {python} is not an executable")
        return python
    return peer_venv(directory / "requirements.txt", venv, name)


def requirements_digest(requirements: Path) -> str:
    """What the venv must have been made from: the requirements' text and the python making it."""
    text = requirements.read_bytes() + sys.version.encode()
    return hashlib.sha256(text).hexdigest()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (two benchmarks never make the venv at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def peer_venv(requirements: Path, venv: Path, name: str = PEER) -> Path:
    """The python of a venv with ``requirements`` installed: ``venv``'s, made (again) if it is missing or stale
    (``name`` says whose, in the log)."""
    python = venv / "bin" / "python"
    digest = requirements_digest(requirements)
    marker = venv / MARKER
    with locked(venv.with_name(venv.name + ".lock")):
        if python.exists() and marker.is_file() and marker.read_text().strip() == digest:
            return python
        logger.info("making the %s's venv in %s (pip install -r %s); once only", name, venv, requirements)
        run_setup_step([sys.executable, "-m", "venv", "--clear", str(venv)], "python -m venv")
        run_setup_step(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
            "pip install -r requirements.txt",
        )
        marker.write_text(digest + "\n")
        logger.info("the %s's venv is ready: %s", name, python)
    return python


def run_setup_step(command: list[str], what: str) -> None:
    """Run one step of making the venv; raise ``PeerUnavailable`` with the end of its output if it fails."""
    try:
        subprocess.run(command, capture_output=True, text=True, check=True, timeout=PIP_TIMEOUT)
    except subprocess.CalledProcessError as exc:
        tail = " | ".join((exc.stderr or exc.stdout or "").strip().splitlines()[-3:])
        raise PeerUnavailable(f"{what} failed (exit {exc.returncode}): {tail}") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerUnavailable(f"{what} failed: {exc}") from None


def peer_env(redis_url: str) -> dict[str, str]:
    """The environment of the peer's processes: ours without its settings, then its Redis and zero-work jobs."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in PEER_ENV_DROPPED and not name.startswith("SAQ_")
    }
    return env | {"REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1", "JOB_TIME_SCALE": COMMON_SETTINGS["job_time_scale"]}


class PeerProcess(ManagedProcess):
    """A process of the peer's stack (or the floor's: ``owner``), run from its folder (whose ``src`` is not ours)."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        cwd: Path,
        ready: Callable[[], bool],
        owner: str = PEER,
    ) -> None:
        super().__init__(name, args, env)
        self.cwd = cwd
        self._ready = ready
        self.owner = owner

    def start(self) -> None:
        """Start the process in its folder (appending to its log)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until the process is ready; raise if it exits first."""
        what = f"the {self.owner}'s {self.name} to be ready"
        wait_for(lambda: not self.is_running() or self._ready(), timeout, what)
        if not self.is_running():
            raise RuntimeError(f"the {self.owner}'s {self.name} exited during start-up:\n{self.log()[-2000:]}")


def server_answers(url: str) -> bool:
    """Whether the peer's web app answers ``GET /`` (below 500), as ``run_bench.sh`` checks."""
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def worker_registered(redis_url: str) -> bool:
    """Whether a SAQ worker has registered itself in the queue's stats set, as ``run_bench.sh`` checks."""
    client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        registered = client.zcard(f"saq:{PEER_QUEUE}:stats")
        return isinstance(registered, int) and registered >= 1
    except redis.RedisError:
        return False
    finally:
        client.close()


class PeerStack(Stack):
    """The peer's Redis, SAQ worker and uvicorn server; measured as our stacks are (pids, logs, CPU)."""

    def __init__(self, peer: Peer, log_dir: Path) -> None:
        super().__init__(PEER, {}, log_dir)
        self.peer = peer
        self.settings = peer.settings()

    def _processes(self, redis_url: str) -> tuple[StackProcess, StackProcess, str]:
        env, python, cwd = peer_env(redis_url), str(self.peer.python), self.peer.directory
        port = free_port()
        worker = PeerProcess(
            "worker", [python, "-m", "saq", "src.tasks.settings"], env, cwd, lambda: worker_registered(redis_url)
        )
        server_args = [python, "-m", "uvicorn", "src.main:app", "--host", "127.0.0.1", "--port", str(port)]
        server = PeerProcess(
            "server",
            [*server_args, *SERVER_FLAGS],
            env,
            cwd,
            lambda: server_answers(f"http://127.0.0.1:{port}/"),
        )
        return worker, server, f"ws://127.0.0.1:{port}/ws/background_jobs"
