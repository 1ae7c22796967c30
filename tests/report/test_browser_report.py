"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) over the DevTools protocol.

A seeded emulator account is crawled over a real socket with ``fcaudit crawl --report``; the page is
opened from disk and checked as rendered: the headline figures are visible, the charts have drawn bars,
the script runs under the page's Content-Security-Policy, the worklist is driven as a person would (one
rule selected: only that rule's findings remain, every one of them, a finding derived from the
emulator's ground truth among them; a search; a severity unticked; the pages), a remediation is shown,
no script error or console error is logged, nothing is requested from the network, and the print
stylesheet applies (no navigation, every finding unfolded). Screenshots (1280x1600) are saved; set
``FCAUDIT_SCREENSHOT=docs/report.png`` and ``FCAUDIT_SCREENSHOT_FILTERED=docs/report-filtered.png`` to
refresh the two docs/report.md shows.

Skipped only when no Chromium is installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from crawler.audit.summary import Summarizer
from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig, FaultKind
from crawler.report.html.page import render_html
from tests.support.audit_support import summarize
from tests.support.browser_support import Page, chromium, find_chromium, page_session, png_size
from tests.support.crawl_support import isolated_env, run_cli, target_args, use_emulator_keys
from tests.support.fixtures import EmulatorFactory
from tests.support.html_support import SCRIPT, UNICODE, hostile_records

ACCOUNT = AccountSpec(seed=7, services=4, functions=40, big_functions=2)
WIDTH, HEIGHT = 1280, 1600

PageCheck = Callable[[Page], Awaitable[None]]


@pytest.fixture
def chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run does it)")
    return binary


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def in_browser(binary: str, profile: Path, url: str, check: PageCheck) -> Page:
    """Open ``url`` in a fresh headless Chromium, run ``check`` on the page, return the session."""

    async def main(port: int) -> Page:
        timeout = aiohttp.ClientTimeout(total=60, connect=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            ws = await page_session(session, port)
            async with ws:
                page = Page(ws)
                await page.open(url, width=WIDTH, height=HEIGHT)
                await check(page)
                return page

    with chromium(binary, profile) as browser:
        return anyio.run(main, browser.port)


def _known_finding(truth: list[dict[str, Any]]) -> str:
    """A target the ground truth says has retries off and no failure destination (a high finding)."""
    for r in truth:
        if r["type"] != "config":
            continue
        c = r["config"]
        if c.get("maxAsyncRetryAttempts") == 0 and not (c.get("destinationConfig") or {}).get("onFailure"):
            return f"{r['service']}/{r['function']}:{r['qualifier'] or 'LATEST'}"
    raise AssertionError("the seeded account has no config with retries off and no failure destination")


async def _column(page: Page, header: str) -> list[float]:
    """The numbers in one column of the services table, top to bottom, as the page shows them now."""
    values: list[float] = await page.evaluate(
        f"""(() => {{
            const table = document.getElementById("services-table");
            const heads = Array.from(table.tHead.rows[0].cells);
            const col = heads.findIndex(th => th.textContent.trim() === {header!r});
            return Array.from(table.tBodies[0].rows, row => Number(row.cells[col].dataset.v));
        }})()"""
    )
    return values


async def _click(page: Page, header: str) -> None:
    await page.evaluate(
        f"""Array.from(document.querySelectorAll("#services-table th button"))
              .find(b => b.textContent.trim() === {header!r}).click()"""
    )


RULE = "retries-disabled-no-failure-destination"


async def _choose(page: Page, control: str, value: str) -> None:
    """Set a worklist control as a person would, and let the page react (its change event)."""
    await page.evaluate(
        f"""(() => {{ const c = document.getElementById({control!r}); c.value = {value!r};
                     c.dispatchEvent(new Event("change")); }})()"""
    )


async def _worklist(page: Page) -> dict[str, Any]:
    """What the worklist shows now: its status line, the rule and target of each finding row, the
    severities of the badges, the remediations shown, and the page line."""
    shown: dict[str, Any] = await page.evaluate(
        """(() => {
            const rows = Array.from(document.querySelectorAll("#wl-list tr"));
            return {
              status: document.getElementById("wl-status").textContent,
              rules: rows.map(r => r.dataset.rule),
              cards: Array.from(document.querySelectorAll("#wl-list article.fn h4 .target"),
                                t => t.textContent),
              qualifiers: rows.map(r => (r.querySelector("td.rule .muted") || {textContent: ""}).textContent),
              severities: Array.from(document.querySelectorAll("#wl-list td.sev .badge"), b => b.textContent),
              fixes: Array.from(document.querySelectorAll("#wl-list .fix"), f => f.textContent),
              commands: Array.from(document.querySelectorAll("#wl-list .fix-command"), f => f.textContent),
              matched: Number(document.getElementById("wl-list").dataset.findings),
              page: document.getElementById("wl-page").textContent,
              pager: !document.getElementById("wl-pager").hidden,
            };
        })()"""
    )
    return shown


def test_the_report_of_a_crawled_account_in_chromium(
    chromium_binary: str, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wanted = os.environ.get("FCAUDIT_SCREENSHOT")
    screenshot = Path(wanted).resolve() if wanted else None  # before the chdir below
    wanted_filtered = os.environ.get("FCAUDIT_SCREENSHOT_FILTERED")
    filtered_shot = Path(wanted_filtered).resolve() if wanted_filtered else None
    # retries and throttling, so the run's figures are not all zero (and the screenshot shows them)
    faults = FaultConfig(seed=2, quota_rps=150.0, quota_burst=2, rates={FaultKind.HTTP_500: 0.05})
    emulator = emulator_factory(ACCOUNT, faults)
    use_emulator_keys(monkeypatch, emulator)
    monkeypatch.chdir(tmp_path)  # the page names its input as given: "out.ndjson"
    out, html = tmp_path / "out.ndjson", tmp_path / "report.html"
    code = run_cli(["crawl", *target_args(emulator), "-o", "out.ndjson", "--report", "report.html", "-q"])
    assert code == 0
    truth = list(emulator.backend.truth_records())
    functions = sum(1 for r in truth if r["type"] == "function")
    configs = sum(1 for r in truth if r["type"] == "config")
    retries_off = sum(
        1 for r in truth if r["type"] == "config" and r["config"].get("maxAsyncRetryAttempts") == 0
    )
    known = _known_finding(truth)
    summarizer = Summarizer()
    with out.open("rb") as f:
        summarizer.add_lines(f)
    report = summarizer.report()
    findings = report.findings_total
    of_rule = report.totals.findings_by_rule[RULE]
    # each finding's remediation, filled in for it: the words, and the FC 2.0 command
    fixes = {f.remediation["summary"] for f in report.findings if f.rule_id == RULE}
    commands = {f.remediation["aliyun"]["fc2"] for f in report.findings if f.rule_id == RULE}
    known_service, known_rest = known.split("/", 1)
    known_function = known_rest.split(":", 1)[0]
    seen: dict[str, Any] = {}

    async def check(page: Page) -> None:
        seen["shot"] = await page.screenshot()
        seen["script"] = await page.evaluate("document.documentElement.dataset.script")
        seen["figures"] = await page.evaluate(
            """Object.fromEntries(Array.from(document.querySelectorAll("[data-figure] .value"),
                                              el => [el.id, el.innerText]))"""
        )
        seen["fix"] = await page.evaluate(
            """Array.from(document.querySelectorAll("#rule-retries-disabled-no-failure-destination td"),
                          td => td.textContent).join("\\n")"""  # textContent: the listing is folded
        )
        seen["worklist_ms"] = await page.evaluate("Number(document.documentElement.dataset.worklistMs)")
        seen["everything"] = await _worklist(page)
        await _choose(page, "wl-rule", RULE)
        seen["one_rule"] = await _worklist(page)
        await page.evaluate('document.getElementById("worklist").scrollIntoView()')
        seen["filtered_shot"] = await page.screenshot()
        await _choose(page, "wl-text", known_function)
        await page.evaluate('document.getElementById("wl-text").dispatchEvent(new Event("input"))')
        await page.evaluate("new Promise(resolve => setTimeout(resolve, 400))")  # the search waits 150 ms
        seen["searched"] = await _worklist(page)
        await page.evaluate('document.getElementById("wl-clear").click()')
        await page.evaluate(
            """(() => { const box = document.querySelector('#wl-severity input[value="high"]');
                        box.checked = false; box.dispatchEvent(new Event("change", {bubbles: true})); })()"""
        )
        seen["no_high"] = await _worklist(page)
        await page.evaluate('document.querySelector("#wl-pager button[data-page=next]").click()')
        seen["page_two"] = await _worklist(page)
        await page.evaluate('document.getElementById("wl-clear").click()')
        seen["cleared"] = await _worklist(page)
        # "fix these first" (crawler.audit.rollup): its first function's button shows that function
        seen["first"] = await page.evaluate(
            """(() => { const b = document.querySelector("#fix-first-table button[data-function]");
                        b.click(); return b.dataset.function; })()"""
        )
        seen["first_shown"] = await _worklist(page)
        seen["bars"] = await page.evaluate(
            """Array.from(document.querySelectorAll("#chart-retries g.bar"), g => [
                   g.querySelector("text.label").textContent,
                   g.querySelector("text.value").textContent,
                   g.querySelector("rect").getBBox().height])"""
        )
        seen["default_order"] = await _column(page, "functions")
        await _click(page, "functions")
        seen["descending"] = await _column(page, "functions")
        await _click(page, "functions")
        seen["ascending"] = await _column(page, "functions")
        low = 'document.querySelector("#severity-low details.rule table").checkVisibility()'
        seen["low_on_screen"] = await page.evaluate(low)
        await page.call("Emulation.setEmulatedMedia", media="print")
        seen["print_nav"] = await page.evaluate(
            'getComputedStyle(document.querySelector("nav.sections")).display'
        )
        seen["low_in_print"] = await page.evaluate(low)

    page = in_browser(chromium_binary, tmp_path / "profile", html.as_uri(), check)

    assert page.problems() == []
    assert page.requests() == [html.as_uri()]  # nothing but the page itself: no network
    assert seen["script"] == "ready"  # the inline script ran under the page's CSP
    figures = seen["figures"]
    assert figures["figure-status"] == "complete"
    assert figures["figure-functions"] == f"{functions:,}"
    assert figures["figure-configs"] == f"{configs:,}"
    assert figures["figure-findings"] == f"{findings:,}"
    # each listed finding shows its remediation, filled in: the words and the aliyun command
    assert "Fix: add an onFailure destination so a failed event is kept" in seen["fix"]
    assert "aliyun fc-open PUT '/2016-08-15/services/" in seen["fix"]
    # the worklist: everything at first, worst first
    everything = seen["everything"]
    assert everything["matched"] == findings
    assert f"of {findings:,} findings match" in everything["status"]
    assert everything["severities"][0] == "\u25b2high"  # icon and label: not told apart by colour alone
    assert 0 <= seen["worklist_ms"] < 5000
    # one rule selected: only its findings remain, and all of them
    one_rule = seen["one_rule"]
    assert set(one_rule["rules"]) == {RULE}
    assert one_rule["matched"] == of_rule > 0
    assert f"{of_rule:,} of {findings:,} findings match" in one_rule["status"]
    assert f"{known_service}/{known_function}" in one_rule["cards"]
    assert set(one_rule["fixes"]) == fixes  # the remediation, filled in, with each finding
    assert set(one_rule["commands"]) == commands
    # a search narrows to the known function (its name may be a prefix of another's)
    searched = seen["searched"]
    assert searched["cards"]
    assert all(known_function in c for c in searched["cards"])
    assert f"{known_service}/{known_function}" in searched["cards"]
    assert set(searched["rules"]) == {RULE}
    # high unticked, rule and search cleared: no high finding left
    no_high = seen["no_high"]
    assert no_high["matched"] == findings - report.totals.findings_by_severity["high"]
    assert no_high["severities"]
    assert "\u25b2high" not in no_high["severities"]
    if no_high["pager"]:
        assert seen["page_two"]["page"].startswith("page 2 of")
    assert seen["cleared"]["matched"] == findings
    first = seen["first_shown"]
    assert first["cards"]
    assert all(seen["first"] in c for c in first["cards"])
    assert first["severities"][0] == "\u25b2high"  # the functions to fix first have a high finding
    bars = {label: (value, height) for label, value, height in seen["bars"]}
    assert bars["0"][0] == f"{retries_off:,}"
    assert all((height > 0) == (value != "0") for value, height in bars.values())
    assert seen["descending"] == sorted(seen["default_order"], reverse=True)
    assert seen["ascending"] == sorted(seen["default_order"])
    assert seen["low_on_screen"] is False  # low findings start folded on screen ...
    assert seen["print_nav"] == "none"
    assert seen["low_in_print"] is True  # ... and are printed unfolded
    shot = seen["shot"]
    assert png_size(shot) == (WIDTH, HEIGHT)
    (tmp_path / "report.png").write_bytes(shot)
    if screenshot is not None:
        screenshot.write_bytes(shot)
    if filtered_shot is not None:
        filtered_shot.write_bytes(seen["filtered_shot"])


def test_hostile_names_stay_text_in_chromium(chromium_binary: str, tmp_path: Path) -> None:
    html = tmp_path / "hostile.html"
    html.write_text(render_html(summarize(hostile_records())), encoding="utf-8")
    seen: dict[str, Any] = {}

    async def check(page: Page) -> None:
        seen["text"] = await page.evaluate("document.body.innerText")
        seen["counts"] = await page.evaluate(
            """["script", "img", "iframe", "b", "i"].map(t => document.getElementsByTagName(t).length)"""
        )
        seen["data"] = await page.evaluate(
            """Array.from(document.getElementsByTagName("script"), s => s.type || "(code)")"""
        )
        seen["worklist"] = await page.evaluate('document.getElementById("wl-list").innerText')
        seen["handlers"] = await page.evaluate(
            """Array.from(document.querySelectorAll("*")).flatMap(
                   el => Array.from(el.attributes, a => a.name)).filter(n => n.startsWith("on")).length"""
        )

    page = in_browser(chromium_binary, tmp_path / "profile", html.as_uri(), check)

    assert page.problems() == []  # no dialog opened, no script error
    assert page.requests() == [html.as_uri()]
    assert seen["counts"] == [2, 0, 0, 0, 0]  # our script, and the worklist's data (a JSON type: never run)
    assert seen["data"] == ["application/json", "(code)"]
    assert seen["handlers"] == 0
    assert SCRIPT in seen["text"]
    assert SCRIPT in seen["worklist"]  # the worklist shows the hostile name as text, from its data
    assert UNICODE in seen["text"]


def test_the_browser_checks_catch_errors(chromium_binary: str, tmp_path: Path) -> None:
    """The checks above can fail: a thrown error, a console error, a dialog and a resource the page's CSP
    blocks are each reported."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        """<!DOCTYPE html><html><head><meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'">
        </head><body><p>bad page</p><img src="http://127.0.0.1:9/x.png">
        <script>console.error("logged on purpose"); alert("a dialog");</script>
        <script>throw new Error("thrown on purpose");</script></body></html>""",
        encoding="utf-8",
    )

    async def check(page: Page) -> None:
        await page.evaluate("new Promise(resolve => setTimeout(resolve, 50))")

    problems = "\n".join(in_browser(chromium_binary, tmp_path / "profile", bad.as_uri(), check).problems())
    assert "thrown on purpose" in problems
    assert "logged on purpose" in problems
    assert "dialog (alert): a dialog" in problems
    assert "Content Security Policy" in problems
