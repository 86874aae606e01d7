"""ASGI middleware that refuses request bodies over a byte cap before anything parses them.

Content-Length is checked up front; chunked bodies are counted as they arrive, and once over the cap
the client gets 413 and the app sees a disconnect (so a half-read upload is never processed).
"""

from __future__ import annotations

import json


def _too_large_body(limit: int) -> bytes:
    message = f"request body is over the limit of {limit} bytes (max_body_bytes)"
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": "body_too_large"}}).encode()


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send) -> None:
        body = _too_large_body(self.max_bytes)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1  # a lying header is not worth parsing
                if declared > self.max_bytes:
                    return await self._reject(send)
        state = {"seen": 0, "rejected": False}

        async def counted_receive():
            if state["rejected"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > self.max_bytes:
                    state["rejected"] = True
                    await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not state["rejected"]:  # we already answered 413; drop whatever the app says
                await send(message)

        return await self.app(scope, counted_receive, guarded_send)
