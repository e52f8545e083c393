# The app's image: the web server by default; the worker with `python -m src.worker` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (a layer that changes only with pyproject.toml); the project itself is imported as
# `src` from /app, so installing it installs its dependencies only.
COPY pyproject.toml README.md ./
RUN pip install .

COPY src ./src

RUN useradd --system --uid 10001 --home-dir /app app
USER app

EXPOSE 8000

# Liveness: the process serves. (Readiness, /readyz, is for the load balancer: see docker-compose.yml.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# As start_dev runs it: no permessage-deflate, uvicorn refusing frames over WS_MAX_SIZE (65536).
CMD ["uvicorn", "src.main:app", "--host", "0.0.0.0", "--port", "8000", "--ws-per-message-deflate", "false", "--ws-max-size", "65536"]
