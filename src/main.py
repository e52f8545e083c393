"""The FastAPI app: the Background Jobs page, the WebSocket sub-app at ``/ws`` and its AsyncAPI docs."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from chanx.fast_channels import asyncapi_docs, asyncapi_spec_json
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.job_queue import JobQueue
from src.layers import setup_layers, teardown_layers
from src.logging_setup import configure_logging
from src.settings import Settings, get_settings
from src.speedups import speedups

STATIC_DIR = Path(__file__).parent / "static"
WS_PATH = "/ws/background_jobs"


def create_app(settings: Settings | None = None, jobs: JobQueue | None = None) -> FastAPI:
    """Build the app for ``settings``; ``jobs`` may bring its own pool (tests)."""
    settings = settings or get_settings()
    job_queue = jobs or JobQueue(settings, speedups=speedups(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        setup_layers(settings)
        await job_queue.open()
        try:
            yield
        finally:
            await job_queue.close()
            await teardown_layers()

    app = FastAPI(
        title="Background Jobs over WebSocket",
        version="0.1.0",
        description="FastAPI + chanx + ARQ: jobs queued over a WebSocket, results sent back to it.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.jobs = job_queue

    ws_app = FastAPI()
    ws_app.state.jobs = job_queue
    ws_app.router.add_websocket_route("/background_jobs", BackgroundJobConsumer.as_asgi())
    app.mount("/ws", ws_app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_page(request: Request) -> HTMLResponse:
        return await asyncapi_docs(request=request, app=app)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json(request: Request) -> JSONResponse:
        return await asyncapi_spec_json(request=request, app=app)

    return app


app = create_app()
