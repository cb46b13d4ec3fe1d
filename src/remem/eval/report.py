"""Eval reports: Markdown for people, JSON for machines, PNG plots of recall against k."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from remem.eval.metrics import HEADLINE, KS, SIGNAL_TOLERANCE
from remem.eval.operations import ADD_USAGE_KEYS


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def markdown(summary: dict[str, Any]) -> str:
    dataset = summary["dataset"]
    systems = summary["systems"]
    lines = [
        f"# remem eval: {dataset}",
        "",
        f"{summary['conversations']} conversations, {summary['turns']} turns, "
        f"from `{summary['path']}`.",
        "",
    ]
    for metric in HEADLINE[dataset]:
        lines += [f"## {metric}@k", "", "| system | " + " | ".join(f"@{k}" for k in KS) + " |"]
        lines.append("|---" * (len(KS) + 1) + "|")
        for name, agg in systems.items():
            cells = [_fmt(agg["overall"].get(f"{metric}@{k}")) for k in KS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _signal_check_markdown(summary.get("signal_check", []), HEADLINE[dataset][0])
    metric = HEADLINE[dataset][0]
    categories = sorted({c for agg in systems.values() for c in agg["by_category"]})
    lines += [f"## {metric}@5 / @10 by category", ""]
    lines.append("| category | n | " + " | ".join(systems) + " |")
    lines.append("|---|---|" + "---|" * len(systems))
    for category in categories:
        some = next(iter(systems.values()))
        n = some["n_by_category"].get(category, {}).get(f"{metric}@5", 0)
        cells = [
            f"{_fmt(agg['by_category'].get(category, {}).get(f'{metric}@5'))} / "
            f"{_fmt(agg['by_category'].get(category, {}).get(f'{metric}@10'))}"
            for agg in systems.values()
        ]
        lines.append(f"| {category} | {n} | " + " | ".join(cells) + " |")
    lines += ["", "## search latency (ms, including query embedding)", ""]
    lines += ["| system | p50 | p95 |", "|---|---|---|"]
    for name, agg in systems.items():
        lines.append(f"| {name} | {_fmt(agg['latency_ms_p50'])} | {_fmt(agg['latency_ms_p95'])} |")
    if "qa" in summary:
        lines += _qa_markdown(summary["qa"])
    if "operations" in summary:
        lines += _operations_markdown(summary["operations"])
    return "\n".join(lines) + "\n"


def _signal_check_markdown(checks: list[dict[str, Any]], metric: str) -> list[str]:
    """The default against its best single signal, a violation in bold (empty without both)."""
    if not checks:
        return []
    lines = [
        f"## never below its best signal ({metric}, tolerance {SIGNAL_TOLERANCE})",
        "",
        "| k | remem | best signal | margin | |",
        "|---|---|---|---|---|",
    ]
    for c in checks:
        verdict = "ok" if c["ok"] else "**BELOW ITS BEST SIGNAL**"
        lines.append(
            f"| {c['k']} | {_fmt(c['default'])} | {c['signal']} {_fmt(c['best'])} "
            f"| {c['margin']:+.3f} | {verdict} |"
        )
    failed = [str(c["k"]) for c in checks if not c["ok"]]
    if failed:
        lines += [
            "",
            f"**Violation**: remem is below its best single signal at k = {', '.join(failed)}.",
        ]
    return [*lines, ""]


def _qa_markdown(qa: dict[str, Any]) -> list[str]:
    systems = qa["systems"]
    lines = [
        "",
        "## QA: J score (LLM judge)",
        "",
        f"Answer model `{qa['answer_model']}`, judge `{qa['judge_model']}`, "
        f"top {qa['k']} memories as context.",
        "",
        "| system | J | correct / n | tokens/query answer | judge | LLM calls (retries) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in systems.items():
        tokens = s["tokens_per_query"]
        calls = s["llm"]["answer"]["calls"] + s["llm"]["judge"]["calls"]
        retries = s["llm"]["answer"]["retries"] + s["llm"]["judge"]["retries"]
        lines.append(
            f"| {name} | {_fmt(s['j'])} | {s['correct']} / {s['n']} | "
            f"{_fmt1(tokens['answer'])} | {_fmt1(tokens['judge'])} | {calls} ({retries}) |"
        )
    unjudged = {name: s.get("unjudged", 0) for name, s in systems.items() if s.get("unjudged")}
    if unjudged:
        listed = ", ".join(f"{name} {n}" for name, n in unjudged.items())
        lines += ["", f"Judge answers unusable, counted as not correct: {listed}."]
    excluded = sorted({c for s in systems.values() for c in s["excluded_from_overall"]})
    if excluded:
        lines += ["", f"Not in the overall J (reported below only): {', '.join(excluded)}."]
    categories = sorted({c for s in systems.values() for c in s["j_by_category"]})
    lines += ["", "### J by category", "", "| category | n | " + " | ".join(systems) + " |"]
    lines.append("|---|---|" + "---|" * len(systems))
    for category in categories:
        n = max(s["n_by_category"].get(category, 0) for s in systems.values())
        cells = [_fmt(s["j_by_category"].get(category)) for s in systems.values()]
        lines.append(f"| {category} | {n} | " + " | ".join(cells) + " |")
    lines += ["", "### QA latency (ms, p50 / p95)", ""]
    lines += ["| system | retrieval | answer | judge |", "|---|---|---|---|"]
    for name, s in systems.items():
        cells = [
            f"{_fmt1(s['latency_ms'][stage]['p50'])} / {_fmt1(s['latency_ms'][stage]['p95'])}"
            for stage in ("retrieval", "answer", "judge")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _operations_markdown(ops: dict[str, Any]) -> list[str]:
    overall = ops["overall"]
    judge = ops["judge_model"]
    lines = [
        "",
        "## Operations: memory extraction and updating (HaluMem)",
        "",
        f"remem ingested each user again with fact extraction by `{ops['extraction_model']}` "
        "(one add per session). A fact states a gold memory point when "
        + (f"the LLM judge `{judge}` says so (**judge**, HaluMem's way) or when " if judge else "")
        + f"the local embedder's cosine is >= {ops['embedding_threshold']} "
        "(**embedding**, no LLM, rough).",
        "",
        "| match | recall | weighted recall | precision | F1 | false-memory resistance "
        "| update accuracy | stale | omitted |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method, m in overall["metrics"].items():
        cells = [
            m[k]
            for k in (
                "recall",
                "weighted_recall",
                "precision",
                "f1",
                "false_memory_resistance",
                "update_accuracy",
                "update_stale",
                "update_omitted",
            )
        ]
        lines.append(f"| {method} | " + " | ".join(_fmt(c) for c in cells) + " |")
    first = next(iter(overall["metrics"].values()), None)
    if first is not None:
        c = first["counts"]
        lines += [
            "",
            f"{c['points']} gold points, {c['interference']} interference points, "
            f"{c['updates']} update points; {c['facts']} facts extracted.",
        ]
    total, per_add = overall["llm"]["total"], overall["llm"]["per_add"]
    latency = overall["add_latency_ms"]
    lines += [
        "",
        "### Extraction cost",
        "",
        "| | LLM calls | extraction | consolidation | prompt tokens | completion tokens "
        "| retries |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = ADD_USAGE_KEYS
    lines.append("| total | " + " | ".join(str(total[k]) for k in keys) + " |")
    lines.append("| per add | " + " | ".join(_fmt1(per_add[k]) for k in keys) + " |")
    lines += [
        "",
        f"{overall['adds']} adds ({overall['failed_extractions']} failed extractions); "
        f"add latency p50 {_fmt1(latency['p50'])} ms, p95 {_fmt1(latency['p95'])} ms. "
        f"Judge: {overall['judge_llm']['calls']} calls, "
        f"{overall['judge_llm']['prompt_tokens']} prompt + "
        f"{overall['judge_llm']['completion_tokens']} completion tokens.",
    ]
    if len(ops["users"]) > 1:
        method = "judge" if judge else "embedding"
        lines += [
            "",
            f"### Per user ({method} match)",
            "",
            "| user | recall | precision | update accuracy | LLM calls | tokens |",
            "|---|---|---|---|---|---|",
        ]
        for user, u in ops["users"].items():
            m = u["metrics"].get(method, {})
            tokens = u["llm"]["total"]["prompt_tokens"] + u["llm"]["total"]["completion_tokens"]
            lines.append(
                f"| {user} | {_fmt(m.get('recall'))} | {_fmt(m.get('precision'))} | "
                f"{_fmt(m.get('update_accuracy'))} | {u['llm']['total']['calls']} | {tokens} |"
            )
    return lines


def _fmt1(value: Any) -> str:
    return "–" if value is None else f"{value:.1f}"


def plot(summary: dict[str, Any], destination: Path) -> Path | None:
    """One panel per category (plus overall): recall against k, a line per system."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    dataset = summary["dataset"]
    metric = HEADLINE[dataset][0]
    systems = summary["systems"]
    panels = ["overall", *sorted({c for agg in systems.values() for c in agg["by_category"]})]
    cols = min(4, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for name, agg in systems.items():
            source = agg["overall"] if panel == "overall" else agg["by_category"].get(panel, {})
            ys = [source.get(f"{metric}@{k}") for k in KS]
            if any(y is not None for y in ys):
                ax.plot(
                    KS, [y if y is not None else float("nan") for y in ys], marker="o", label=name
                )
        ax.set_xscale("log")
        ax.set_xticks(KS, [str(k) for k in KS])
        ax.set_ylim(0, 1.02)
        ax.set_title(panel, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{dataset}: {metric}@k")
    fig.tight_layout()
    fig.savefig(destination, dpi=110)
    plt.close(fig)
    return destination


def write(summary: dict[str, Any], outdir: str | Path) -> dict[str, Path]:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    stem = summary["dataset"]
    paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md"}
    paths["json"].write_text(json.dumps(summary, indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown(summary))
    png = plot(summary, out / f"{stem}.png")
    if png is not None:
        paths["png"] = png
    return paths
