"""Who may connect (issue 16), for the tests: tokens made here with PyJWT (or by hand, for the forged kinds), key
pairs, the app on other settings, and handshakes and requests with exactly the headers a test gives."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.main import WS_PATH, create_app
from src.parts import parts_for
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED

#: HMAC secrets of at least 32 bytes: PyJWT warns about shorter ones (and warnings are errors here).
SECRET = "the-unit-tests-hs256-secret-0123456789"
OTHER_SECRET = "another-hs256-secret-nobody-gave-the-server"

Claims = dict[str, Any]


def hs256(claims: Claims, secret: str = SECRET) -> str:
    """A token signed with ``secret`` (HS256)."""
    return jwt.encode(claims, secret, algorithm="HS256")


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Claims) -> str:
    """One JWT segment: the JSON of ``value``, base64url."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(claims: Claims) -> str:
    """A token with ``alg: none`` and no signature (PyJWT will not make one)."""
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}."


def hmac_signed_with(key: bytes, claims: Claims) -> str:
    """An HS256 token whose HMAC key is ``key`` (a public key's PEM, say: PyJWT refuses to make that one)."""
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def expires_in(seconds: float) -> int:
    """An ``exp`` claim ``seconds`` from now (negative: in the past)."""
    return int(time.time() + seconds)


@dataclass(frozen=True)
class KeyPair:
    """A private key (PEM) to sign tokens with, and the public key (PEM) the server is given."""

    private_pem: str
    public_pem: str


def pem_pair(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> KeyPair:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return KeyPair(private.decode(), public.decode())


@cache
def rsa_keys(name: str = "server") -> KeyPair:
    """An RSA key pair (2048 bits: PyJWT warns below that), one per ``name`` per test session."""
    return pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@cache
def ec_keys(name: str = "server") -> KeyPair:
    """A P-256 key pair (ES256), one per ``name`` per test session."""
    return pem_pair(ec.generate_private_key(ec.SECP256R1()))


def signed(claims: Claims, keys: KeyPair, algorithm: str) -> str:
    """A token signed with the private key of ``keys``."""
    return jwt.encode(claims, keys.private_pem, algorithm=algorithm)


def bearer_of(user: str) -> tuple[bytes, bytes]:
    """An ``Authorization: Bearer`` header with a token naming ``user`` (signed with ``SECRET``), valid for an hour."""
    return (b"authorization", f"Bearer {hs256({'sub': user, 'exp': expires_in(3600)})}".encode())


async def open_as(app: FastAPI, user: str, sockets: list[WebsocketCommunicator]) -> tuple[WebsocketCommunicator, Any]:
    """Open a socket as ``user`` (appended to ``sockets``): the communicator and its first output, the connected frame
    or a close."""
    ws = socket_on(app, headers=[bearer_of(user)])
    sockets.append(ws)
    await ws.connect()
    return ws, await ws.receive_output(timeout=2)


def served(output: Any) -> bool:
    """Whether a socket's first output is the connected frame."""
    return bool(output["type"] == "websocket.send" and json.loads(output["text"]) == CONNECTED)


async def connected_as(app: FastAPI, user: str, sockets: list[WebsocketCommunicator]) -> WebsocketCommunicator:
    """A socket of ``user``'s (appended to ``sockets``), past its connected frame."""
    ws, first = await open_as(app, user, sockets)
    assert served(first), first
    return ws


def app_on(settings: Settings, pool: ArqRedis) -> FastAPI:
    """The app on ``settings`` (its job queue on ``pool``), built as production builds it."""
    return create_app(settings, jobs=JobQueue(settings, parts_for(settings), pool=pool))


def socket_with(app: FastAPI, headers: Sequence[tuple[bytes, bytes]], path: str = WS_PATH) -> WebsocketCommunicator:
    """An in-process socket with exactly ``headers`` (no Host header unless given)."""
    return WebsocketCommunicator(app, path, headers=list(headers), consumer=BackgroundJobConsumer)


@dataclass(frozen=True)
class Answer:
    """An HTTP response as the app sent it."""

    status: int
    body: bytes


async def http_get(app: ASGIApp, path: str, headers: Sequence[tuple[bytes, bytes]]) -> Answer:
    """GET ``path`` in-process with exactly ``headers`` (as raw bytes: no client library rewrites or checks them)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if requested:
            return {"type": "http.disconnect"}
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    (start,) = [message for message in sent if message["type"] == "http.response.start"]
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return Answer(start["status"], body)
