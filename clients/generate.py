"""Regenerate the typed client from the app's AsyncAPI spec with chanx's generator: ``python -m clients.generate``."""

import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from chanx.client_generator.generator import ClientGenerator

from src.main import create_app
from src.settings import Settings

logger = logging.getLogger("clients.generate")

CLIENTS_DIR = Path(__file__).resolve().parent
#: The checked-in client; its name is the package's (and the generated README's).
CLIENT_DIR = CLIENTS_DIR / "background_jobs_client"


async def asyncapi_spec() -> dict[str, Any]:
    """The app's ``/asyncapi.json``, served in-process."""
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
        response = await client.get("/asyncapi.json")
        response.raise_for_status()
        spec: dict[str, Any] = response.json()
        return spec


def generate(output_dir: Path) -> None:
    """Write the client for the app's current spec to ``output_dir`` (replacing what is there), unformatted."""
    spec = asyncio.run(asyncapi_spec())
    with tempfile.TemporaryDirectory() as scratch:
        schema = Path(scratch) / "asyncapi.json"
        schema.write_text(json.dumps(spec, indent=2, ensure_ascii=False), encoding="utf-8")
        ClientGenerator(str(schema), str(output_dir), clear_output=True, override_base=True).generate()


def main() -> int:
    """Regenerate the checked-in client."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    generate(CLIENT_DIR)
    logger.info("Generated the typed client in %s", CLIENT_DIR.relative_to(CLIENTS_DIR.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
