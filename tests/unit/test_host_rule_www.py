"""An allowed ``www.`` host does not stand for its bare domain: a request naming the bare domain is refused, not
redirected to the ``www.`` host (Starlette's ``www_redirect`` is off)."""

from arq import ArqRedis

from src.settings import Settings
from tests.support.who_may_connect import Answer, app_on, http_get

INVALID_HOST = Answer(400, b"Invalid host header")


async def test_a_request_naming_the_bare_domain_of_an_allowed_www_host_gets_400_not_a_redirect(
    settings: Settings, pool: ArqRedis
) -> None:
    app = app_on(settings.model_copy(update={"allowed_hosts": ["www.example.com"]}), pool)

    assert await http_get(app, "/", [(b"host", b"example.com")]) == INVALID_HOST
