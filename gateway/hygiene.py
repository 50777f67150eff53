"""Paths and query strings go through the same hygiene as bodies (core/inputs.py): a request
whose decoded path or query carries NUL or a lone surrogate, or whose query string is over
``MAX_QUERY_BYTES``, is answered 422 ``INVALID_CHARACTERS`` before routing, so no endpoint ever
hands such a value to the database (PostgreSQL refuses NUL in text) or echoes it."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from core.inputs import text_problem
from gateway.errors import error_response

MAX_QUERY_BYTES = 8 * 1024


class InputHygieneMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self._problem(scope)
            if problem is not None:
                await error_response(422, "INVALID_CHARACTERS", problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _problem(scope: Scope) -> str | None:
        query: bytes = scope.get("query_string", b"")
        if len(query) > MAX_QUERY_BYTES:
            return f"The query string is over {MAX_QUERY_BYTES} bytes"
        path = str(scope.get("path", ""))
        decoded_query = unquote(query.decode("latin-1"), errors="surrogateescape")
        for part, value in (("path", path), ("query string", decoded_query)):
            problem = text_problem(value)
            if problem:
                return f"The {part} {problem}"
        return None
