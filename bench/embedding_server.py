"""An OpenAI-compatible ``/v1/embeddings`` endpoint on loopback serving remem's local model.

Peers that only speak the OpenAI protocol (mem0) get the very vectors remem stores: a text of
the corpus gets its cached vector, any other text (a query) goes through the real model, the
same call remem makes. Answers ``encoding_format`` ``float`` and ``base64`` as OpenAI does.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


class EmbeddingServer:
    """``with EmbeddingServer(lookup, embed) as server: server.url`` (``.../v1``)."""

    def __init__(
        self,
        lookup: Callable[[str], np.ndarray | None],
        embed: Callable[[Sequence[str]], np.ndarray],
        model: str,
    ) -> None:
        self.lookup, self.embed, self.model = lookup, embed, model
        self.lock = threading.Lock()  # one model call at a time, as in remem
        self.requests = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> EmbeddingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def vectors(self, texts: list[str]) -> np.ndarray:
        found = [self.lookup(t) for t in texts]
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            with self.lock:
                computed = self.embed([texts[i] for i in missing])
            for i, vector in zip(missing, computed, strict=True):
                found[i] = vector
        return np.stack([np.asarray(v, dtype=np.float32) for v in found])

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        texts = request["input"]
        texts = [texts] if isinstance(texts, str) else list(texts)
        vectors = self.vectors(texts)
        as_base64 = request.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode()
                if as_base64
                else v.tolist(),
            }
            for i, v in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": self.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not self.path.rstrip("/").endswith("/embeddings"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                server.requests += 1
                self._send(200, server.answer(json.loads(body)))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler
