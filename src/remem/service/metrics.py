"""Prometheus metrics of one service instance, in a registry of its own (several apps may share a process)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remem.providers.embedder import Embedder, WrappedEmbedder

if TYPE_CHECKING:
    from pydantic import BaseModel

    from remem.providers.llm import LLM, Completion, Usage

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "remem_http_requests",
            "HTTP requests by route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "remem_http_request_duration_seconds",
            "Time from request to the end of the response, by route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.added = Counter(
            "remem_memories_added", "Memories written by add.", registry=self.registry
        )
        self.searches = Counter("remem_searches", "Searches answered.", registry=self.registry)
        self.model_calls = Counter(
            "remem_model_calls",
            "Calls to a model provider (embedder; llm once one is configured), by outcome.",
            ["model", "outcome"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "remem_llm_tokens",
            "Tokens the LLM server reported, by kind (prompt or completion).",
            ["kind"],
            registry=self.registry,
        )
        self.model_seconds = Histogram(
            "remem_model_call_duration_seconds",
            "Time spent in model provider calls.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    @contextmanager
    def model_call(self, model: str) -> Iterator[None]:
        """Count and time one provider call; ``model`` is "embedder" or "llm"."""
        began = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = "ok"
        finally:
            self.model_calls.labels(model, outcome).inc()
            self.model_seconds.labels(model).observe(time.perf_counter() - began)

    def llm_call(self) -> AbstractContextManager[None]:
        """For LLM providers: wrap each request to the model in ``with metrics.llm_call():``."""
        return self.model_call("llm")

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MeteredEmbedder(WrappedEmbedder):
    """The Embedder protocol around another one, counting and timing every call."""

    def __init__(self, inner: Embedder, metrics: Metrics) -> None:
        super().__init__(inner)
        self.metrics = metrics

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self.metrics.model_call("embedder"):
            return self.inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        with self.metrics.model_call("embedder"):
            return self.inner.embed_query(text)


class MeteredLLM:
    """The LLM protocol around another one, counting calls, time and tokens of every request."""

    def __init__(self, inner: LLM, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def usage(self) -> Usage:
        return self.inner.usage

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> Completion:
        with self.metrics.llm_call():
            done = self.inner.complete(
                messages, schema=schema, max_tokens=max_tokens, temperature=temperature
            )
        self.metrics.llm_tokens.labels("prompt").inc(done.usage.prompt_tokens)
        self.metrics.llm_tokens.labels("completion").inc(done.usage.completion_tokens)
        return done

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


class RequestMetrics:
    """ASGI middleware: one count and one latency sample per HTTP request, labelled by route."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            # Templates, not raw paths, so ids never become label values.
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()
            self.metrics.latency.labels(scope["method"], label).observe(time.perf_counter() - began)
