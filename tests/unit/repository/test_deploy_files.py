"""The Dockerfile, docker-compose.yml and the proxy's deploy/nginx.conf, read as Docker and nginx would read them (no
Docker engine here): their commands, ports, environment and health checks match the app's entry points and settings,
and only the proxy, which times out slow headers, is published."""

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from src.settings import Settings
from src.start_dev import server_command, worker_command

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()
#: What the web service adds to the image's command: uvicorn trusts X-Forwarded-For from the proxy in front of it.
BEHIND_THE_PROXY = ["--forwarded-allow-ips", "*"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def dockerfile(instruction: str) -> list[str]:
    return [arguments for name, arguments in dockerfile_instructions() if name == instruction]


def options(command: list[str]) -> dict[str, str]:
    """A uvicorn command's ``--option value`` pairs."""
    flags = command[command.index("src.main:app") + 1 :]
    return dict(zip(flags[::2], flags[1::2], strict=True))


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    return {str(key): str(value) for key, value in env.items()}


def settings_of(service: str) -> Settings:
    """The settings the service's environment gives the app (unknown names fail: extra keys are not allowed)."""
    env = environment(service)
    fields = {name.upper() for name in Settings.model_fields}
    assert set(env) <= fields, f"not settings of the app: {sorted(set(env) - fields)}"
    return Settings.model_validate({name.lower(): value for name, value in env.items()})


def container_port(service: str) -> int:
    """The port the service listens on: the container side of its published port, or the port it exposes."""
    if "ports" in SERVICES[service]:
        (mapping,) = SERVICES[service]["ports"]
        return int(str(mapping).rsplit(":", 1)[1])
    (exposed,) = SERVICES[service]["expose"]
    return int(exposed)


def nginx_directives(name: str) -> list[str]:
    """The arguments of each ``name`` directive in nginx.conf (comments dropped)."""
    text = re.sub(r"#[^\n]*", "", NGINX)
    return [match.strip() for match in re.findall(rf"(?:^|[{{;\s]){re.escape(name)}\s+([^;{{]*)[;{{]", text)]


def health_url(test: list[str] | str) -> str:
    """The URL a health check's command fetches."""
    text = test if isinstance(test, str) else " ".join(test)
    (url,) = re.findall(r"https?://[^'\" ]+", text)
    return str(url)


def test_compose_runs_redis_the_web_app_behind_a_proxy_and_the_worker() -> None:
    assert set(SERVICES) == {"redis", "proxy", "web", "worker"}


def test_only_the_proxy_is_published_and_it_passes_requests_and_sockets_to_the_web_services_port() -> None:
    published = {name for name, service in SERVICES.items() if "ports" in service}
    (upstream,) = nginx_directives("server")[:1]

    assert published == {"proxy"}
    assert nginx_directives("listen") == [str(container_port("proxy"))]
    assert upstream == f"web:{container_port('web')}"
    assert nginx_directives("proxy_pass") == ["http://web"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in SERVICES["proxy"]["volumes"]


def test_the_proxy_gives_up_on_slow_headers_which_uvicorn_would_wait_for_forever() -> None:
    (timeout,) = nginx_directives("client_header_timeout")

    assert re.fullmatch(r"\d+s", timeout)
    assert 1 <= int(timeout.removesuffix("s")) <= 60


def test_the_proxy_passes_on_the_websocket_upgrade_the_host_and_the_clients_address() -> None:
    headers = dict(value.split(None, 1) for value in nginx_directives("proxy_set_header"))

    assert nginx_directives("proxy_http_version") == ["1.1"]
    assert headers["Upgrade"] == "$http_upgrade"
    assert headers["Connection"] == "$connection_upgrade"
    assert headers["Host"] == "$http_host"
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"


def test_redis_keeps_an_append_only_file_on_a_volume_and_has_a_health_check() -> None:
    redis = SERVICES["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "redis-cli" in redis["healthcheck"]["test"]


def test_the_web_service_runs_the_server_as_start_dev_does_on_its_published_port() -> None:
    web = SERVICES["web"]
    ours = server_command(Settings(host="0.0.0.0", port=container_port("web")))

    assert web["command"][:2] == ["uvicorn", "src.main:app"]
    assert options(web["command"]) == options(ours) | dict([BEHIND_THE_PROXY])
    assert options(web["command"])["--ws-max-size"] == str(settings_of("web").ws_max_size)


def test_the_image_runs_the_same_server_command_and_exposes_its_port() -> None:
    (cmd,) = dockerfile("CMD")
    (expose,) = dockerfile("EXPOSE")

    assert [*json.loads(cmd), *BEHIND_THE_PROXY] == SERVICES["web"]["command"]
    assert int(expose) == container_port("web")


def test_the_worker_service_runs_python_m_src_worker() -> None:
    assert SERVICES["worker"]["command"] == ["python", *worker_command()[1:]]


@pytest.mark.parametrize("service", ["web", "worker"])
def test_the_app_services_environment_is_the_apps_settings_with_redis_at_the_redis_service(service: str) -> None:
    settings = settings_of(service)

    assert urlsplit(settings.redis_url).hostname == "redis"
    assert SERVICES[service]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_web_services_health_check_is_readyz_and_the_images_is_healthz_on_the_servers_port() -> None:
    (healthcheck,) = dockerfile("HEALTHCHECK")
    port = container_port("web")

    assert health_url(SERVICES["web"]["healthcheck"]["test"]) == f"http://127.0.0.1:{port}/readyz"
    assert health_url(shlex.split(healthcheck)) == f"http://127.0.0.1:{port}/healthz"


def test_the_workers_health_check_reads_its_metrics_port_and_it_may_finish_its_jobs_on_stop() -> None:
    settings = settings_of("worker")
    worker = SERVICES["worker"]

    assert health_url(worker["healthcheck"]["test"]) == f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
    assert int(str(worker["stop_grace_period"]).removesuffix("s")) > settings.worker_shutdown_grace


def test_the_image_is_the_python_the_project_requires_with_the_project_and_its_code() -> None:
    (base,) = dockerfile("FROM")
    copied = " ".join(dockerfile("COPY"))

    assert re.fullmatch(r"python:3\.1[1-9][\w.-]*", base)
    assert "pyproject.toml" in copied
    assert "src ./src" in copied
    assert "pip install ." in dockerfile("RUN")
    assert dockerfile("USER") != ["root"]
