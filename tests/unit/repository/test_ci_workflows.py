"""The GitHub workflows, read as Actions reads them: the gate's jobs run the tox envs this suite defines, where a
Docker engine serves Redis through testcontainers, and the nightly run soaks, mutates and benchmarks."""

import configparser
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def workflow(name: str) -> dict[str, Any]:
    """A workflow file; YAML reads the ``on:`` key as True, so it is put back under "on"."""
    loaded: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    if True in loaded:
        loaded["on"] = loaded.pop(True)
    return loaded


def commands(job: dict[str, Any]) -> list[str]:
    return [str(step["run"]) for step in job["steps"] if "run" in step]


def tox_envs() -> set[str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    listed = {env.strip() for env in config["tox"]["env_list"].split(",")}
    sections = {section.removeprefix("testenv:") for section in config.sections() if section.startswith("testenv:")}
    return listed | sections


CI = workflow("ci.yml")
NIGHTLY = workflow("nightly.yml")


def test_the_gate_runs_every_tox_env_of_make_test_as_a_job() -> None:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    wanted = {env.strip() for env in config["tox"]["env_list"].split(",")}
    ran: set[str] = set()
    for job in CI["jobs"].values():
        matrix_envs = job.get("strategy", {}).get("matrix", {}).get("tox-env", [])
        for command in commands(job):
            if command == "tox -e ${{ matrix.tox-env }}":
                ran |= set(matrix_envs)
            elif command.startswith("tox -e "):
                ran.add(command.removeprefix("tox -e ").split()[0])
    assert ran == wanted


def test_jobs_that_need_redis_expect_the_testcontainers_provider() -> None:
    for name in ("integration", "e2e"):
        assert CI["jobs"][name]["env"]["EXPECT_REDIS_PROVIDER"] == "testcontainers", name
    assert "EXPECT_REDIS_PROVIDER" in (ROOT / "tox.ini").read_text()  # tox hands it to pytest


def test_the_unit_layer_runs_on_python_3_11_3_12_and_3_13() -> None:
    assert CI["jobs"]["unit"]["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]


def test_the_gate_fails_on_any_failed_job_but_not_on_a_superseded_runs_cancellation() -> None:
    gate = CI["jobs"]["all-green"]
    assert set(gate["needs"]) == set(CI["jobs"]) - {"all-green"}
    assert gate["if"] == "${{ !cancelled() }}"
    assert CI["concurrency"]["cancel-in-progress"] is True


def test_every_night_soaks_three_runs_mutates_and_benchmarks() -> None:
    assert NIGHTLY["on"]["schedule"]
    runs = [command for job in NIGHTLY["jobs"].values() for command in commands(job)]
    assert "make soak N=3" in runs
    assert {"tox -e mutation", "tox -e bench-smoke"} <= set(runs)
    assert {"mutation", "bench-smoke"} <= tox_envs()
