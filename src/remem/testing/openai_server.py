"""A scripted OpenAI-compatible chat server on 127.0.0.1: real HTTP, no model.

Test utility. It speaks ``POST /v1/chat/completions`` (and ``GET /v1/models``)
closely enough that the real client code runs end to end, and answers from a
script: queued replies in order, then a responder function of the request. A
reply can be any text (valid JSON or not), an HTTP error, a slow answer or a
dropped connection. Every request is recorded with what was answered, including
the ``usage`` the server reported, so tests can check accounting exactly.

    with ScriptedOpenAIServer() as server:
        server.queue('{"answer": "Lisbon"}', Reply(status=500), "plain text")
        llm = OpenAIChatLLM(server.url, "scripted")

Token counts are whitespace-separated words (prompt: all message contents;
completion: the reply text) unless a reply sets them.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: What a responder returns: a full Reply, or just the assistant's text.
Responder = Callable[[dict[str, Any]], "Reply | str"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``body`` (a dict or raw string) replaces the generated envelope."""

    content: str = ""
    status: int = 200
    error: str | None = None
    body: Any = None
    delay_s: float = 0.0
    drop: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Exchange:
    """One request as received and what the server did with it."""

    path: str
    request: dict[str, Any]
    headers: dict[str, str]
    status: int | None  # None: the connection was dropped
    usage: dict[str, int] | None  # as reported in the response, when there was one
    content: str | None


def count_tokens(text: str) -> int:
    return len(text.split())


class ScriptedOpenAIServer:
    """Starts on a free loopback port; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        rejects: Collection[str] = (),
        model: str = "scripted",
    ) -> None:
        self.responder = responder
        #: response_format types answered with HTTP 400, as servers without that feature do.
        self.rejects = set(rejects)
        self.model = model
        self._queue: deque[Reply | str] = deque()
        self._exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> ScriptedOpenAIServer:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.scripted = self
        self._thread = threading.Thread(
            # A short poll keeps stop() fast: shutdown waits for the loop to notice.
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="scripted-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes slow replies so they end at once
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL clients take (ends in /v1, like https://api.openai.com/v1)."""
        if self._httpd is None:
            raise RuntimeError("the scripted server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- script and record ---------------------------------------------------------
    def queue(self, *replies: Reply | str) -> None:
        """Answers for the next chat requests, in order; then the responder takes over."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat requests received, in order."""
        return [e.request for e in self.exchanges if e.path.endswith("/chat/completions")]

    def reported_usage(self) -> dict[str, int]:
        """Token totals over every response that reported usage."""
        total = {"prompt_tokens": 0, "completion_tokens": 0}
        for exchange in self.exchanges:
            for key in total:
                total[key] += (exchange.usage or {}).get(key, 0)
        return total

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def _next_reply(self, request: dict[str, Any]) -> Reply:
        response_format = request.get("response_format") or {}
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind in self.rejects:
            return Reply(
                status=400,
                body={
                    "error": {
                        "message": f"Invalid parameter: 'response_format' of type '{kind}' "
                        "is not supported with this model.",
                        "type": "invalid_request_error",
                        "param": "response_format",
                        "code": None,
                    }
                },
            )
        with self._lock:
            scripted = self._queue.popleft() if self._queue else None
        if scripted is None and self.responder is not None:
            scripted = self.responder(request)
        if scripted is None:
            return Reply(status=418, error="the scripted server has no reply left for this request")
        return Reply(content=scripted) if isinstance(scripted, str) else scripted

    def _completion(self, request: dict[str, Any], reply: Reply) -> dict[str, Any]:
        prompt = sum(
            count_tokens(m.get("content") or "")
            for m in request.get("messages", [])
            if isinstance(m, dict) and isinstance(m.get("content"), str)
        )
        usage = {
            "prompt_tokens": reply.prompt_tokens if reply.prompt_tokens is not None else prompt,
            "completion_tokens": (
                reply.completion_tokens
                if reply.completion_tokens is not None
                else count_tokens(reply.content)
            ),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return {
            "id": f"chatcmpl-scripted-{len(self._exchanges)}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": usage,
        }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    scripted: ScriptedOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    disable_nagle_algorithm = True  # else headers and body wait on a delayed ACK (~40 ms)
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read ``exchanges`` instead."""

    def do_GET(self) -> None:
        scripted = self.server.scripted
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": scripted.model, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        scripted = self.server.scripted
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            request = {"_raw": raw.decode("utf-8", "replace")}
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._answer(scripted, request, headers, Reply(status=404, error="no such route"))
            return
        problem = _request_problem(request)
        reply = Reply(status=400, error=problem) if problem else scripted._next_reply(request)
        self._answer(scripted, request, headers, reply)

    def _answer(
        self,
        scripted: ScriptedOpenAIServer,
        request: dict[str, Any],
        headers: dict[str, str],
        reply: Reply,
    ) -> None:
        if reply.delay_s and scripted._stopping.wait(reply.delay_s):
            reply = Reply(drop=True)
        if reply.drop:
            scripted._record(Exchange(self.path, request, headers, None, None, None))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        usage = None
        if reply.body is not None:
            body = reply.body
        elif reply.status == 200:
            body = scripted._completion(request, reply)
            usage = body["usage"]
        else:
            body = {"error": {"message": reply.error or "scripted error", "type": "server_error"}}
        scripted._record(
            Exchange(
                self.path,
                request,
                headers,
                reply.status,
                usage,
                reply.content if reply.status == 200 else None,
            )
        )
        self._send(reply.status, body, reply.headers)

    def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        is_text = isinstance(body, str)
        data = body.encode() if is_text else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if is_text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout)


def _request_problem(request: dict[str, Any]) -> str | None:
    if not isinstance(request.get("model"), str):
        return "'model' is required"
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            return f"each message needs a role: {message!r}"
        # An assistant turn that only calls tools may leave its content out, as OpenAI allows.
        if "content" not in message and not message.get("tool_calls"):
            return f"each message needs role and content: {message!r}"
    if request.get("stream"):
        return "streaming is not supported by the scripted server"
    return None
