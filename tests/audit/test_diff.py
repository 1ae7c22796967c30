"""``fcaudit diff``: two crawls of one seeded emulator account, changed in between through the official
SDK (put and delete over HTTP), must differ by exactly those changes — configs and findings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fc2
import orjson
import pytest

from crawler.emulator import AccountSpec, Backend, generate_account
from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import isolated_env, run_cli, target_args, use_emulator_keys

PLANTED_AT = "2020-01-01T00:00:00Z"


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def queue(backend: Backend, name: str) -> dict[str, Any]:
    arn = f"acs:mns:{backend.region}:{backend.account_id}:/queues/{name}/messages"
    return {"onFailure": {"destination": arn}}


def planted_account() -> Backend:
    """A generated account plus a service whose configs the test changes (clean of other findings)."""
    backend = generate_account(AccountSpec(seed=31, services=3, functions=24, big_functions=1))
    backend.add_service("drift")
    for name in ("alpha", "beta", "gamma"):
        backend.add_function("drift", name)
    put = backend.put_config
    put("drift", "alpha", "LATEST", {"destinationConfig": queue(backend, "a")}, PLANTED_AT)
    put(
        "drift",
        "alpha",
        "prod",
        {"destinationConfig": queue(backend, "a"), "maxAsyncRetryAttempts": 2},
        PLANTED_AT,
    )
    put("drift", "beta", "LATEST", {"destinationConfig": queue(backend, "b")}, PLANTED_AT)
    return backend


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorThread]:
    with EmulatorThread(planted_account()) as emu:
        use_emulator_keys(monkeypatch, emu)
        yield emu


def crawl(emu: EmulatorThread, out: Path) -> None:
    assert run_cli(["crawl", *target_args(emu), "--output", str(out), "-q"]) == 0


def diff_json(old: Path, new: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    assert run_cli(["diff", str(old), str(new), "--format", "json", *extra]) == 0
    result: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return result


def test_the_diff_lists_exactly_the_changes_made_through_the_sdk(
    emulator: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.ndjson", tmp_path / "new.ndjson"
    crawl(emulator, old)
    sdk = fc2.Client(
        endpoint=emulator.endpoint,
        accessKeyID=emulator.access_key_id,
        accessKeySecret=emulator.access_key_secret,
        Timeout=10,
    )
    backend = emulator.backend
    # alpha LATEST loses its failure destination; alpha prod retries 2 -> 5
    sdk.put_function_async_invoke_config("drift", "LATEST", "alpha", {"destinationConfig": {}})
    sdk.put_function_async_invoke_config(
        "drift", "prod", "alpha", {"destinationConfig": queue(backend, "a"), "maxAsyncRetryAttempts": 5}
    )
    sdk.delete_function_async_invoke_config("drift", "LATEST", "beta")  # beta falls back to defaults
    sdk.put_function_async_invoke_config(
        "drift", "LATEST", "gamma", {"destinationConfig": queue(backend, "g")}
    )
    crawl(emulator, new)

    result = diff_json(old, new, capsys)

    account, region = emulator.account_id, emulator.region
    changes = {
        (c["change"], c["service"], c["function"], c["qualifier"]): {f["field"]: f for f in c["fields"]}
        for c in result["configs"]
    }
    assert set(changes) == {
        ("changed", "drift", "alpha", "LATEST"),
        ("changed", "drift", "alpha", "prod"),
        ("removed", "drift", "beta", "LATEST"),
        ("added", "drift", "gamma", "LATEST"),
    }
    alpha = changes[("changed", "drift", "alpha", "LATEST")]
    assert set(alpha) == {"destinationConfig.onFailure.destination", "lastModifiedTime"}
    assert alpha["destinationConfig.onFailure.destination"] == {
        "field": "destinationConfig.onFailure.destination",
        "old": queue(backend, "a")["onFailure"]["destination"],
    }
    assert alpha["lastModifiedTime"]["old"] == PLANTED_AT
    prod = changes[("changed", "drift", "alpha", "prod")]
    assert set(prod) == {"maxAsyncRetryAttempts", "lastModifiedTime"}
    assert (prod["maxAsyncRetryAttempts"]["old"], prod["maxAsyncRetryAttempts"]["new"]) == (2, 5)
    gamma = changes[("added", "drift", "gamma", "LATEST")]
    assert gamma["destinationConfig.onFailure.destination"]["new"].endswith("/queues/g/messages")
    assert all("old" not in f for f in gamma.values())
    findings = {
        (f["change"], f["ruleId"], f["function"], f["qualifier"], f["account"], f["region"])
        for f in result["findings"]
    }
    assert findings == {
        ("new", "no-failure-destination", "alpha", "LATEST", account, region),
        ("new", "no-failure-destination-unverified", "beta", None, account, region),  # on defaults
        ("resolved", "no-failure-destination-unverified", "gamma", None, account, region),
    }
    assert result["counts"] == {
        "added": 1,
        "removed": 1,
        "changed": 2,
        "newFindings": 2,
        "resolvedFindings": 1,
        "supersededFindings": 0,
        "unverifiedConfigs": 0,
        "unverifiedFindings": 0,
    }
    assert result["drift"] is True

    ignored = diff_json(old, new, capsys, "--ignore-field", "lastModifiedTime")
    fields = {(c["function"], c["qualifier"]): [f["field"] for f in c["fields"]] for c in ignored["configs"]}
    assert fields[("alpha", "prod")] == ["maxAsyncRetryAttempts"]

    assert run_cli(["diff", str(old), str(new), "--fail-on-drift"]) == 1
    table = capsys.readouterr().out
    assert "1 added, 1 removed, 2 changed" in table
    assert "maxAsyncRetryAttempts: 2 → 5" in table
    assert run_cli(["diff", str(old), str(new), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "### Changed configs (2)" in markdown
    assert "| `maxAsyncRetryAttempts` | 2 | 5 |" in markdown


def test_a_crawl_compared_with_itself_has_no_drift(
    emulator: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    crawl(emulator, first)
    crawl(emulator, second)
    capsys.readouterr()
    assert run_cli(["diff", str(first), str(second), "--fail-on-drift"]) == 0
    assert capsys.readouterr().out.startswith("No drift from")


def lines(*records: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def run_record(phase: str, **data: Any) -> dict[str, Any]:
    return {"type": "run", "phase": phase, **data}


def config(function: str, qualifier: str, body: dict[str, Any]) -> dict[str, Any]:
    key = {"account": "1", "region": "cn-hangzhou", "service": "s", "function": function}
    return {"type": "config", **key, "qualifier": qualifier, "config": body}


def function(name: str, status: str, configs: int) -> dict[str, Any]:
    key = {"account": "1", "region": "cn-hangzhou", "service": "s", "function": name}
    return {"type": "function", **key, "status": status, "configs": configs, "pages": 1, "error": None}


TARGETS = [{"account": "1", "region": "cn-hangzhou", "endpoint": "http://127.0.0.1:1"}]
FAILURE = {"onFailure": {"destination": "acs:mns:cn-hangzhou:1:/queues/q/messages"}}


def test_fc3_spelling_is_not_drift_and_error_listings_are_unverified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fc2_body = {"service": "s", "function": "f", "qualifier": "", "maxAsyncRetryAttempts": 3}
    fc2_body |= {"statefulInvocation": True, "destinationConfig": FAILURE}
    fc3_body = {"functionArn": "acs:fc:cn-hangzhou:1:functions/s$f", "maxAsyncRetryAttempts": 3}
    fc3_body |= {"asyncTask": True, "destinationConfig": FAILURE}
    old = tmp_path / "old.ndjson"
    new = tmp_path / "new.ndjson"
    old.write_bytes(
        lines(
            run_record("start", targets=TARGETS),
            config("f", "LATEST", fc2_body),
            function("f", "ok", 1),
            config("g", "LATEST", fc2_body),
            function("g", "ok", 1),
            run_record("end", complete=True),
        )
    )
    new.write_bytes(
        lines(
            run_record("start", targets=TARGETS),
            config("f", "LATEST", fc3_body),
            function("f", "ok", 1),
            {**function("g", "error", 0), "error": {"code": "Timeout", "attempts": 6}},
            run_record("end", complete=False),
        )
    )
    result = diff_json(old, new, capsys)
    assert result["configs"] == []
    assert result["findings"] == []
    assert result["counts"]["unverifiedConfigs"] == 1  # g's config: its listing failed, not removed
    assert result["counts"]["unverifiedFindings"] == 1  # g's pair-error finding
    assert result["drift"] is False
    assert any("incomplete crawl" in w for w in result["warnings"])


def test_unreadable_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.ndjson"
    good.write_bytes(lines(run_record("start", targets=TARGETS), run_record("end", complete=True)))
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(lines(run_record("start")) + b"{not json\n")
    assert run_cli(["diff", str(good), str(tmp_path / "missing.ndjson")]) == 2
    assert capsys.readouterr().err.strip().endswith("missing.ndjson: no such file")
    assert run_cli(["diff", str(bad), str(good)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.ndjson line 2: not valid JSON" in err
    assert len(err.splitlines()) == 1


def test_a_field_whose_type_changed_is_a_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Pins that a value of another JSON type is drift even where Python calls it equal: ``3`` became
    ``3.0`` (and ``true`` became ``1``) — a different answer from the API, reported field by field."""
    old = tmp_path / "old.ndjson"
    new = tmp_path / "new.ndjson"
    for path, retries, stateful in ((old, 3, True), (new, 3.0, 1)):
        body = {"qualifier": "", "maxAsyncRetryAttempts": retries, "statefulInvocation": stateful}
        path.write_bytes(
            lines(
                run_record("start", targets=TARGETS),
                config("f", "LATEST", body),
                function("f", "ok", 1),
                run_record("end", complete=True),
            )
        )
    result = diff_json(old, new, capsys)
    assert result["drift"] is True
    [change] = result["configs"]
    assert (change["change"], change["function"], change["qualifier"]) == ("changed", "f", "LATEST")
    assert change["fields"] == [
        {"field": "maxAsyncRetryAttempts", "old": 3, "new": 3.0},
        {"field": "statefulInvocation", "old": True, "new": 1},
    ]
    retries, stateful = change["fields"]
    assert (type(retries["old"]), type(retries["new"])) == (int, float)
    assert (type(stateful["old"]), type(stateful["new"])) == (bool, int)
