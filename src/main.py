"""The FastAPI app: the Background Jobs page, the WebSocket sub-app at ``/ws`` and its AsyncAPI docs."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from chanx.fast_channels import asyncapi_docs, asyncapi_spec_json
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.layers import keep_listening, setup_layers, teardown_layers
from src.ops.logging_setup import configure_logging
from src.ops.metrics import WebMetrics
from src.ops.readiness import ReadinessLog, readiness
from src.parts import parts_for
from src.settings import Settings, get_settings
from src.web.admission import Admission
from src.web.gate import SocketGate
from src.web.host_allowlist import HostAllowlist
from src.web.job_queue import JobQueue
from src.web.job_watches import JobWatches
from src.web.ownership import JobOwnership
from src.web.token_auth import SHORT_SECRET
from src.web.user_limits import UserLimits

logger = structlog.stdlib.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
WS_PATH = "/ws/background_jobs"
#: The liveness and readiness probes and the metrics scrape, answered whatever host a request names (a load
#: balancer, an orchestrator or Prometheus reaches a server by its address).
PROBES = ("/healthz", "/readyz", "/metrics")


class SocketFirst:
    """ASGI middleware: the background-jobs socket goes straight to its consumer, past the app's other layers.

    An open socket keeps alive every layer it came through (a coroutine frame, a copy of the scope);
    FastAPI's exception and routing layers do nothing for this socket, so it skips them: about 4 KB
    less held per socket. Every other request goes through the app as usual.
    """

    def __init__(self, app: ASGIApp, path: str, endpoint: Any) -> None:
        self.app = app
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self.path:
            await self.endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def warn_of_a_short_secret(settings: Settings) -> None:
    """Say once, at start-up, that ``AUTH_JWT_SECRET`` is shorter than an HS256 key should be."""
    secret = settings.auth_jwt_secret
    if secret is not None and len(secret.get_secret_value().encode()) < SHORT_SECRET:
        logger.warning("AUTH_JWT_SECRET is shorter than 32 bytes: tokens signed with it are easier to forge")


def create_app(settings: Settings | None = None, jobs: JobQueue | None = None) -> FastAPI:
    """Build the app for ``settings``, with the parts ``parts_for`` chooses (here, once); ``jobs`` may bring its own
    pool and parts (tests)."""
    settings = settings or get_settings()
    job_queue = jobs or JobQueue(settings, parts_for(settings))
    parts = job_queue.parts
    user_limits = UserLimits(settings, job_queue) if settings.auth_enabled else None
    watches = JobWatches(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        warn_of_a_short_secret(settings)
        restore_runtime = parts.tune_process()
        setup_layers(settings, layer_class=parts.channel_layer_class)
        # In the background: with Redis away, the app starts all the same (the layer reconnects).
        background: list[asyncio.Task[Any]] = [
            asyncio.create_task(keep_listening(), name="keep the channel layer listening")
        ]
        await job_queue.open()
        if user_limits is not None:
            background.append(asyncio.create_task(user_limits.keep_renewing(), name="renew the sockets' leases"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await watches.close()
            await job_queue.close()
            await teardown_layers()
            restore_runtime()

    app = FastAPI(
        title="Background Jobs over WebSocket",
        version="0.1.0",
        description="FastAPI + chanx + ARQ: jobs queued over a WebSocket, results sent back to it.",
        lifespan=lifespan,
    )
    admission = Admission(settings)
    app.state.settings = settings
    app.state.jobs = job_queue
    app.state.admission = admission
    app.state.parts = parts
    app.state.ownership = JobOwnership(job_queue)
    app.state.user_limits = user_limits
    app.state.watches = watches
    metrics = WebMetrics(sockets_open=lambda: admission.sockets)
    app.state.metrics = metrics
    readiness_log = ReadinessLog()

    # The socket is on the app's own router (a mounted sub-app would hold a second middleware stack
    # per socket), behind its gate, and reached past the middleware by SocketFirst.
    socket = SocketGate(
        BackgroundJobConsumer,
        parts,
        settings=settings,
        jobs=job_queue,
        admission=admission,
        user_limits=user_limits,
        metrics=metrics,
    )
    app.router.routes.append(WebSocketRoute(WS_PATH, socket))
    app.add_middleware(SocketFirst, path=WS_PATH, endpoint=socket)

    def host_refused() -> None:
        metrics.sockets_refused.labels("host").inc()

    # Outermost: every request but the probes must name an allowed host.
    app.add_middleware(
        HostAllowlist, allowed_hosts=settings.trusted_hosts, probes=PROBES, on_refused_socket=host_refused
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/auth.json", include_in_schema=False)
    async def auth_info() -> dict[str, bool]:
        """Whether the socket wants a token (the page asks when its handshake is refused)."""
        return {"token_required": settings.auth_enabled}

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """200 while the process serves (whatever Redis and the workers are doing)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """200 when Redis answers and a worker has checked in; 503 saying which is not so."""
        verdict = await readiness(job_queue.pool, settings)
        readiness_log.record(verdict)
        return JSONResponse(verdict.body(), status_code=200 if verdict.ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """This server's metrics in Prometheus' text format."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_page(request: Request) -> HTMLResponse:
        return await asyncapi_docs(request=request, app=app)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json(request: Request) -> JSONResponse:
        return await asyncapi_spec_json(request=request, app=app)

    return app


app = create_app()
