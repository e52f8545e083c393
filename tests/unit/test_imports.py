"""Importing any module builds settings and classes and opens nothing; the web pool is made by the lifespan."""

import subprocess
import sys
import textwrap

from tests.support.processes import PROJECT_ROOT

#: Imports the modules with every socket connection made to fail, and says what the task module holds.
PROBE = textwrap.dedent(
    """
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a connection was opened at import")

    socket.socket.connect = refuse
    socket.create_connection = refuse

    import importlib
    import pkgutil

    import src

    for module in pkgutil.walk_packages(src.__path__, "src."):
        importlib.import_module(module.name)

    import src.main
    import src.tasks

    assert src.main.app.state.jobs._pool is None  # the web pool is made by the app's lifespan
    worker_settings = src.tasks.WorkerSettings  # what `arq src.tasks.WorkerSettings` gets: its pool not connected
    print(worker_settings.__name__, worker_settings.queue_name)
    """
)


def test_importing_any_module_opens_no_connection_and_the_app_makes_no_pool_before_its_lifespan() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1", "QUEUE_NAME": "q:imports"},
    )

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["WorkerSettings", "q:imports"]
