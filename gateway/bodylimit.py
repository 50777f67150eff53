"""One cap on request bodies, for every endpoint (also the anonymous Stripe webhook).

A declared ``Content-Length`` above ``MAX_REQUEST_BODY_BYTES`` is answered 413
``PAYLOAD_TOO_LARGE`` before a byte of the body is read; a body without a length (chunked) is
counted as it arrives and refused with the same 413 the moment it passes the cap. The endpoints
that take files (``STREAMING_ROUTES``) stream to S3 under the plan's own size limit and are
left to it.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import TooLargeError
from core.settings import get_settings
from gateway.errors import error_response

#: (method, path pattern) of the endpoints that enforce a limit of their own (the plan's).
STREAMING_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("PUT", re.compile(r"^/v1/tasks/[^/]+/files/[^/]+$")),
    ("POST", re.compile(r"^/v1/tasks$")),
)


def _exempt(method: str, path: str) -> bool:
    return any(method == m and pattern.match(path) for m, pattern in STREAMING_ROUTES)


def _too_large(limit: int) -> TooLargeError:
    return TooLargeError(
        f"Request bodies are limited to {limit} bytes", details={"limit_bytes": limit}
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        limit = get_settings().max_request_body_bytes
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            text = declared.decode("latin-1").strip()
            if not text.isdigit():
                response = error_response(
                    400, "BAD_REQUEST", "Content-Length is not a number of bytes"
                )
                await response(scope, receive, send)
                return
            if int(text) > limit:
                err = _too_large(limit)
                await error_response(413, err.code, err.message, err.details)(scope, receive, send)
                return
        seen = 0
        refused = False
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; whatever the endpoint answers after is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not refused:
                    # Answer 413 now and tell the endpoint the client went away: it stops
                    # reading, and nothing it answers afterwards is sent.
                    if not started:
                        err = _too_large(limit)
                        await error_response(413, err.code, err.message, err.details)(
                            scope, receive, send
                        )
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, guarded_send)


def install_body_limit(app: ASGIApp) -> None:
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    app.add_middleware(BodyLimitMiddleware)
