"""Chat LLMs behind one Protocol; the default speaks OpenAI-compatible ``/chat/completions``.

One client reaches OpenAI, vLLM, Ollama and llama.cpp's server. Structured output
asks for ``response_format=json_schema`` and steps down to ``json_object`` and then
to plain prompt instructions when a server rejects it, because small local servers
differ in what they accept. Whatever the server returns is parsed tolerantly and
validated with pydantic; an invalid answer is sent back once or twice with the
validation error so the model can repair it. Transient failures (429, 5xx,
timeouts, dropped connections) are retried with exponential backoff; anything
left over is one ``ProviderError`` that names the server and what went wrong.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx
from pydantic import BaseModel, ValidationError

from remem.errors import InvalidInput, ProviderError, UnusableAnswer

M = TypeVar("M", bound=BaseModel)

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_S = 60.0

#: How structured output is requested, strongest first; a server that rejects one gets the next.
FORMAT_MODES = ("json_schema", "json_object", "prompt")

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_RETRYABLE_STATUS = frozenset({408, 429})
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "schema", "json")


@dataclass(frozen=True)
class Usage:
    """What LLM work cost: requests sent, tokens the server reported, and re-sends among them.

    ``calls`` counts every HTTP request sent; ``retries`` counts the requests beyond the
    first within one ``complete()`` (transport retries, format fallbacks, repairs), so
    ``calls - retries`` is the number of completions asked for.
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            retries=self.retries + other.retries,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls - other.calls,
            prompt_tokens=self.prompt_tokens - other.prompt_tokens,
            completion_tokens=self.completion_tokens - other.completion_tokens,
            retries=self.retries - other.retries,
        )


@dataclass(frozen=True)
class Completion:
    """One answer: its text, the validated schema instance (if one was asked for), its cost."""

    text: str
    data: Any = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0


@runtime_checkable
class LLM(Protocol):
    """A chat model. ``usage`` is cumulative over the provider's life (thread-safe)."""

    @property
    def model_id(self) -> str: ...

    @property
    def usage(self) -> Usage: ...

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> Completion:
        """The model's reply; with ``schema``, ``data`` is a validated instance of it."""
        ...


class InvalidOutput(ValueError):
    """The model's text is not a JSON object matching the schema."""


def parse_json_object(text: str) -> Any:
    """The JSON object in a model's reply, tolerating code fences, <think> blocks and chatter."""
    cleaned = _THINK.sub("", text).strip()
    fenced = _FENCE.search(cleaned)
    candidates = [fenced.group(1).strip()] if fenced else []
    candidates.append(cleaned)
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if 0 <= start < end:
        candidates.append(cleaned[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    if not cleaned:
        raise InvalidOutput("the answer was empty; expected a JSON object")
    raise InvalidOutput("the answer contains no valid JSON object")


def parse_structured(text: str, schema: type[M]) -> M:
    """``text`` parsed and validated as ``schema``; ``InvalidOutput`` says what is wrong."""
    value = parse_json_object(text)
    try:
        return schema.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidOutput(f"the JSON does not match {schema.__name__}: {problems}") from exc


def schema_instruction(schema: type[BaseModel]) -> str:
    return (
        "Reply with one JSON object and nothing else. It must match this JSON Schema:\n"
        + json.dumps(schema.model_json_schema(), separators=(",", ":"))
    )


def _repair_message(error: InvalidOutput, truncated: bool) -> str:
    cut = " Your answer was cut off at the token limit; answer more briefly." if truncated else ""
    return (
        f"Your previous answer could not be used: {error}.{cut} "
        "Reply again with only the corrected JSON object."
    )


class OpenAIChatLLM:
    """Chat completions from any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = 3,
        repair_attempts: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._timeout = timeout
        self._max_retries = max_retries
        self._repair_attempts = repair_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._format_mode = FORMAT_MODES[0]
        self._usage = Usage()
        self._lock = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self._base_url, headers=headers, timeout=timeout)

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIChatLLM(base_url={self._base_url!r}, model={self._model!r})"

    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def usage(self) -> Usage:
        with self._lock:
            return self._usage

    @property
    def format_mode(self) -> str:
        """How structured output is currently requested (steps down when a server rejects it)."""
        return self._format_mode

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIChatLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> Completion:
        conversation = _checked_messages(messages)
        started = time.perf_counter()
        spent = _Tally()
        try:
            text, truncated = self._chat(conversation, schema, max_tokens, temperature, spent)
            if schema is None:
                return Completion(text, None, spent.usage(), time.perf_counter() - started)
            repairs = 0
            while True:
                try:
                    data = parse_structured(text, schema)
                except InvalidOutput as exc:
                    if repairs == self._repair_attempts:
                        raise UnusableAnswer(
                            f"{self._where()}: the answer did not match {schema.__name__} "
                            f"after {repairs + 1} tries: {exc}",
                            usage=spent.usage(),
                        ) from exc
                    repairs += 1
                    conversation += [
                        {"role": "assistant", "content": text},
                        {"role": "user", "content": _repair_message(exc, truncated)},
                    ]
                    spent.retries += 1
                    text, truncated = self._chat(
                        conversation, schema, max_tokens, temperature, spent
                    )
                else:
                    return Completion(text, data, spent.usage(), time.perf_counter() - started)
        finally:
            with self._lock:
                self._usage = self._usage + spent.usage()

    # -- one completion, with transport retries and format fallback -------------
    def _chat(
        self,
        conversation: list[dict[str, str]],
        schema: type[BaseModel] | None,
        max_tokens: int | None,
        temperature: float,
        spent: _Tally,
    ) -> tuple[str, bool]:
        failures = 0
        first = True
        while True:
            mode = self._format_mode if schema is not None else None
            body = self._body(conversation, schema, mode, max_tokens, temperature)
            if not first:
                spent.retries += 1
            first = False
            spent.calls += 1
            try:
                response = self._client.post("/chat/completions", json=body)
            except httpx.TimeoutException:
                problem, wait = f"no answer within {self._timeout:g}s (timeout)", None
            except httpx.TransportError as exc:
                problem, wait = f"connection failed ({type(exc).__name__}: {exc})", None
            else:
                status = response.status_code
                if status == 200:
                    return self._read(response, spent)
                detail = _error_detail(response)
                if mode in FORMAT_MODES[:2] and _rejects_format(status, detail):
                    self._step_down(mode)
                    continue
                if status not in _RETRYABLE_STATUS and status < 500:
                    raise ProviderError(f"{self._where()} answered HTTP {status}: {detail}")
                problem, wait = f"HTTP {status}: {detail}", _retry_after(response)
            failures += 1
            if failures > self._max_retries:
                raise ProviderError(
                    f"{self._where()} failed after {failures} attempts; last: {problem}"
                )
            backoff = self._backoff_s * 2 ** (failures - 1)
            self._sleep(min(self._max_backoff_s, wait if wait is not None else backoff))

    def _body(
        self,
        conversation: list[dict[str, str]],
        schema: type[BaseModel] | None,
        mode: str | None,
        max_tokens: int | None,
        temperature: float,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self._model, "temperature": temperature}
        messages = conversation
        if schema is not None and mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64],
                    "schema": schema.model_json_schema(),
                    "strict": False,
                },
            }
        elif schema is not None:
            # json_object and plain prompts carry the schema in the instructions
            # (OpenAI's json_object also insists the word JSON appear in the messages).
            messages = _with_instruction(conversation, schema_instruction(schema))
            if mode == "json_object":
                # "schema" is llama.cpp's extension (its server and llama-cpp-python's):
                # the output is constrained to the schema, not just to some JSON object.
                # Servers without it ignore the key; the model still has the instruction.
                body["response_format"] = {
                    "type": "json_object",
                    "schema": schema.model_json_schema(),
                }
        body["messages"] = messages
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        return body

    def _read(self, response: httpx.Response, spent: _Tally) -> tuple[str, bool]:
        try:
            payload = response.json()
            usage = payload.get("usage") or {}
            spent.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            spent.completion_tokens += int(usage.get("completion_tokens") or 0)
            choice = payload["choices"][0]
            content = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(
                f"{self._where()} returned a response that is not a chat completion: "
                f"{response.text[:200]!r}"
            ) from exc
        if not isinstance(content, str):  # some servers return content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content, choice.get("finish_reason") == "length"

    def _step_down(self, rejected: str) -> None:
        with self._lock:
            index = FORMAT_MODES.index(rejected)
            if FORMAT_MODES.index(self._format_mode) <= index:
                self._format_mode = FORMAT_MODES[index + 1]

    def _where(self) -> str:
        return f"LLM server {self._base_url} (model {self._model})"


@dataclass
class _Tally:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0

    def usage(self) -> Usage:
        return Usage(self.calls, self.prompt_tokens, self.completion_tokens, self.retries)


def _checked_messages(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    if not messages:
        raise InvalidInput("an LLM call needs at least one message")
    checked = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise InvalidInput(f"each message needs a string role and content, got {message!r}")
        checked.append({"role": role, "content": content})
    return checked


def _with_instruction(conversation: list[dict[str, str]], instruction: str) -> list[dict[str, str]]:
    """The instruction joined to the first system message (or as one), leaving the rest intact."""
    messages = [dict(m) for m in conversation]
    if messages and messages[0]["role"] == "system":
        messages[0]["content"] = f"{messages[0]['content']}\n\n{instruction}"
        return messages
    return [{"role": "system", "content": instruction}, *messages]


def _error_detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        return str(error)[:300]
    return str(payload)[:300]


def _rejects_format(status: int, detail: str) -> bool:
    """Whether an error answer says the server does not take this ``response_format``.

    Most servers say so with 400/422. llama-cpp-python's server answers a request field it
    does not know (``json_schema``) with HTTP 500 naming ``response_format`` in a validation
    error; retrying that would fail the same way every time, so it steps down too.
    """
    lowered = detail.lower()
    if status in (400, 422):
        return any(word in lowered for word in _FORMAT_WORDS)
    return status == 500 and "response_format" in lowered and "validation" in lowered


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def llm_from_env(
    *,
    url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    timeout: float | None = None,
) -> OpenAIChatLLM | None:
    """The configured LLM: arguments first, then REMEM_LLM_URL / _MODEL / _API_KEY / _TIMEOUT.

    None when no URL is configured: remem works without an LLM, callers decide
    whether that is an error.
    """
    url = url or os.environ.get("REMEM_LLM_URL")
    if not url:
        return None
    timeout_env = os.environ.get("REMEM_LLM_TIMEOUT")
    try:
        timeout = timeout or (float(timeout_env) if timeout_env else DEFAULT_TIMEOUT_S)
    except ValueError as exc:
        raise InvalidInput(
            f"REMEM_LLM_TIMEOUT must be a number of seconds: {timeout_env!r}"
        ) from exc
    return OpenAIChatLLM(
        base_url=url,
        model=model or os.environ.get("REMEM_LLM_MODEL") or DEFAULT_MODEL,
        api_key=api_key or os.environ.get("REMEM_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        timeout=timeout,
    )


def default_llm() -> LLM | None:
    """The LLM named by REMEM_LLM_URL, or None when none is configured."""
    return llm_from_env()
