"""The inspector in a real browser: list, search, detail, edit, forget, and its security
(escaping, CSRF, CSP, tenant isolation). Memories go in through the HTTP API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.ui.conftest import Inspector

TURNS = [
    {"role": "user", "speaker": "Ana", "content": "I moved to Lisbon last March."},
    {"role": "assistant", "content": "How are you finding Portugal?"},
    {"role": "user", "speaker": "Ana", "content": "I adopted a golden retriever named Max."},
    {"role": "assistant", "content": "Max sounds adorable."},
    {"role": "user", "speaker": "Ana", "content": "My sister Rita is a cardiologist in Porto."},
]
XSS = [
    "<script>window.__xss = 1</script> plain script payload",
    '<img src=x onerror="window.__xss = 2"> image payload',
]


@pytest.fixture(scope="module")
def ana(inspector: Inspector) -> dict[str, str]:
    """Tenant acme's memories: Ana's conversation, Bo's note, the XSS payloads; id by text."""
    client = inspector.client("acme")
    added = client.add(TURNS, user_id="ana", session_id="s1")
    client.add("Bo prefers window seats on long flights.", user_id="bo", session_id="s2")
    client.add("Cy's note from May 2020.", user_id="cy", timestamp="2020-05-05T10:00:00Z")
    for payload in XSS:
        client.add(payload, user_id="mallory")
    return {m.text: m.id for m in added.memories}


def _rows(page: Any) -> list[str]:
    return page.locator("#memories tbody td.text a").all_inner_texts()


def test_signing_in_takes_a_key_and_keeps_it_out_of_urls(
    inspector: Inspector, ana: dict[str, str], shots: Callable[[Any, str], Any]
) -> None:
    page = inspector.page()
    page.goto(f"{inspector.url}/ui/memories")
    assert "/ui/login" in page.url
    page.fill("#key", "rk_not_a_key")
    page.click("button[type=submit]")
    assert "unknown or revoked API key" in page.locator(".error").inner_text()
    page.fill("#key", inspector.token("acme"))
    shots(page, "login")
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/memories")
    assert inspector.token("acme") not in page.url
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert page.evaluate("document.cookie") == ""


def test_memories_are_listed_and_filtered(
    inspector: Inspector, ana: dict[str, str], shots: Callable[[Any, str], Any]
) -> None:
    page = inspector.page("acme")
    rows = _rows(page)
    assert "Bo prefers window seats on long flights." in rows
    assert any("golden retriever" in r for r in rows)
    assert page.locator("#total").inner_text() == str(len(rows))
    shots(page, "memories")
    page.fill("input[name=user]", "bo")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**user=bo**")
    assert _rows(page) == ["Bo prefers window seats on long flights."]
    page.fill("input[name=user]", "")
    page.fill("input[name=after]", "2020-05-01")
    page.fill("input[name=before]", "2020-05-05")  # the whole day counts
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**before=2020-05-05**")
    assert _rows(page) == ["Cy's note from May 2020."]
    page.goto(f"{inspector.url}/ui/memories?after=2020-05-06")
    assert "Cy's note from May 2020." not in _rows(page)
    page.goto(f"{inspector.url}/ui/memories?after=2020-13-01")
    assert "is not a date" in page.locator(".error").inner_text()
    assert page.problems == [] or all("422" in p for p in page.problems)


def test_search_shows_each_signal_of_each_hit(
    inspector: Inspector, ana: dict[str, str], shots: Callable[[Any, str], Any]
) -> None:
    page = inspector.page("acme")
    page.keyboard.press("/")  # the shortcut opens search
    page.wait_for_url("**/ui/search")
    page.keyboard.type("what dog did Ana adopt")
    page.keyboard.press("Enter")
    page.wait_for_selector("#hits .hit")
    first = page.locator("#hits .hit").first
    assert "golden retriever" in first.locator(".hit-text").inner_text()
    signals = first.locator("table.explain tbody td:first-child").all_inner_texts()
    assert {"bm25", "dense"} <= set(signals)
    assert re.match(r"fused score \d\.\d{4}", first.locator("caption").inner_text())
    shots(page, "search")
    assert page.problems == []


def test_edit_makes_a_version_with_a_diff_and_a_history(
    inspector: Inspector, ana: dict[str, str], shots: Callable[[Any, str], Any]
) -> None:
    memory_id = next(i for t, i in ana.items() if "cardiologist" in t)
    page = inspector.page("acme")
    page.click("#memories a:has-text('cardiologist')")
    page.wait_for_url(f"**/ui/memories/{memory_id}")
    assert (
        page.locator("ol.turns li.source")
        .inner_text()
        .endswith("My sister Rita is a cardiologist in Porto.")
    )
    assert page.locator("ol.turns li").count() >= 3  # the turns around it
    edited = page.input_value("#edit-text").replace("cardiologist", "surgeon")
    page.fill("#edit-text", edited)
    page.fill("#edit-reason", "she changed specialty")
    page.click("#save")
    page.wait_for_selector("#versions li:nth-child(2)")
    assert page.locator("#memory-text").inner_text() == edited
    newest = page.locator("#versions li").nth(1)
    assert newest.locator("ins").inner_text() == "surgeon"
    assert newest.locator("del").inner_text() == "cardiologist"
    history = page.locator("#history tbody tr").all_inner_texts()
    assert any("update" in row and "she changed specialty" in row for row in history)
    page.click("#pin")
    page.wait_for_selector("#pinned")
    page.fill("#edit-text", "   ")
    page.click("#save")  # refused by the engine: the message replaces the page, no trace
    page.wait_for_selector(".error")
    assert "text" in page.locator(".error").inner_text()
    assert page.locator("nav a").count() >= 9 and "Traceback" not in page.content()
    assert [p for p in page.problems if "422" not in p] == []  # the browser logs the 422
    page.problems.clear()
    page.go_back()
    page.wait_for_selector("#pinned")
    shots(page, "memory")
    assert page.problems == []


def test_forget_removes_it_everywhere(inspector: Inspector, ana: dict[str, str]) -> None:
    memory_id = next(i for t, i in ana.items() if "Lisbon" in t)
    page = inspector.page("acme")
    page.goto(f"{inspector.url}/ui/memories/{memory_id}")
    page.click("#forget")
    page.wait_for_url("**/ui/memories")
    assert not any("Lisbon" in r for r in _rows(page))
    page.goto(f"{inspector.url}/ui/search?q=Lisbon")
    assert "Lisbon" not in " ".join(page.locator("#hits").all_inner_texts())
    response = page.goto(f"{inspector.url}/ui/memories/{memory_id}")
    assert response.status == 404
    assert f"no memory {memory_id}" in page.locator(".error").inner_text()
    assert "Traceback" not in page.content()


def test_memory_text_is_shown_as_text_and_runs_nothing(
    inspector: Inspector, ana: dict[str, str]
) -> None:
    page = inspector.page("acme")
    page.goto(f"{inspector.url}/ui/memories?user=mallory")
    shown = " ".join(_rows(page))
    assert "<script>window.__xss = 1</script>" in shown
    assert '<img src=x onerror="window.__xss = 2">' in shown
    page.click("#memories a:has-text('image payload')")
    page.goto(f"{inspector.url}/ui/search?q=payload")
    assert page.locator("#hits img").count() == 0
    assert page.locator("main script").count() == 0
    assert page.evaluate("window.__xss") is None
    response = page.goto(f"{inspector.url}/ui/memories")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.problems == []


def test_writes_need_the_page_token_and_the_same_origin(
    inspector: Inspector, ana: dict[str, str]
) -> None:
    memory_id = next(i for t, i in ana.items() if "golden retriever" in t)
    page = inspector.page("acme")
    url = f"{inspector.url}/ui/memories/{memory_id}/edit"
    forged = page.request.post(url, form={"text": "forged"})
    assert forged.status == 403
    page.goto(f"{inspector.url}/ui/memories/{memory_id}")
    token = page.locator("input[name=csrf]").first.input_value()
    elsewhere = page.request.post(
        url, form={"text": "forged", "csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status == 403
    assert inspector.client("acme").get(memory_id).version == 1


def test_a_second_tenant_sees_nothing_of_the_first(
    inspector: Inspector, ana: dict[str, str], shots: Callable[[Any, str], Any]
) -> None:
    inspector.client("globex").add("Globex keeps its own notes.", user_id="zed")
    memory_id = next(i for t, i in ana.items() if "golden retriever" in t)
    page = inspector.page("globex")
    assert _rows(page) == ["Globex keeps its own notes."]
    page.goto(f"{inspector.url}/ui/search?q=golden+retriever+Max")
    assert "retriever" not in page.locator("main").inner_text()
    assert page.goto(f"{inspector.url}/ui/memories/{memory_id}").status == 404
    phone = inspector.page("globex", width=390, height=844)
    assert _rows(phone) == ["Globex keeps its own notes."]
    shots(phone, "memories-phone")


def test_the_api_and_the_ui_answer_without_a_browser_too(inspector: Inspector) -> None:
    """Signed out, a page redirects to the login form; the API still wants its header."""
    answer = httpx.get(f"{inspector.url}/ui/memories", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")
    assert httpx.get(f"{inspector.url}/v1/memories").status_code == 401
