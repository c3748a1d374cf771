"""Context parsing, the parity job's metric value, the views custom resource handler, infra doctests."""

from __future__ import annotations

import doctest
import importlib
from typing import Any

import pytest

from infra.docker.parity_job import count_differences
from infra.runtime import athena_views
from infra.settings import SettingsError, settings_from_context


def test_defaults_match_cdk_json() -> None:
    import json
    from pathlib import Path

    context = json.loads((Path(__file__).parents[3] / "infra" / "cdk.json").read_text())["context"]
    from_json = settings_from_context({k: v for k, v in context.items() if not k.startswith("@")})
    assert from_json == settings_from_context({})


def test_context_strings_from_the_command_line() -> None:
    s = settings_from_context(
        {"ledgers": "a,b", "source_backup": "true", "shard_count": "3", "stream_mode": "provisioned"}
    )
    assert (s.ledgers, s.source_backup, s.shard_count, s.stream_mode) == (("a", "b"), True, 3, "PROVISIONED")
    assert s.projection_ledgers == ("a", "b")
    assert settings_from_context({"qldb_ledger_name": "dmv"}).projection_ledgers == ("dmv",)


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"stream_mode": "FAST"}, "stream_mode"),
        ({"buffer_mb": 32}, "buffer_mb"),
        ({"archive_prefix": "no-slash"}, "archive_prefix"),
        ({"object_lock_days": 0}, "object_lock_days"),
        ({"bytes_scanned_cutoff": 1}, "bytes_scanned_cutoff"),
        ({"vpc_id": "vpc-1"}, "subnet_ids"),
        ({"container_image": "repo"}, "container_image"),
        ({"max_idle_hours": 500}, "max_idle_hours"),
        ({"live_order": "sorted"}, "live_order"),
        ({"live_batch_size": 20000}, "live_batch_size"),
        ({"live_parallelization_factor": 11}, "live_parallelization_factor"),
        ({"live_max_retry_attempts": -2}, "live_max_retry_attempts"),
        ({"live_max_record_age_seconds": 30}, "live_max_record_age_seconds"),
        ({"live_max_record_age_seconds": 700000}, "live_max_record_age_seconds"),
        ({"live_order": "strict", "live_max_record_age_seconds": 300}, "live_strict_max_wait_seconds"),
    ],
)
def test_bad_context_names_the_key(context: dict[str, object], key: str) -> None:
    with pytest.raises(SettingsError, match=key) as info:
        settings_from_context(context)
    assert info.value.key == key


@pytest.mark.parametrize(
    ("code", "report", "expected"),
    [
        (0, "", 0),
        (1, '{"differences": 4}', 4),
        (1, '{"differences": ["a"]}', 1),
        (1, "{}", 1),
        (2, "", None),
        (-9, "", None),
    ],
)
def test_parity_metric_value(code: int, report: str, expected: int | None) -> None:
    assert count_differences(code, report) == expected


class FakeAthena:
    def __init__(self, fail: str | None = None) -> None:
        self.sql: list[str] = []
        self.fail = fail

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.sql.append(kwargs["QueryString"])
        return {"QueryExecutionId": f"q{len(self.sql)}"}

    def get_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        failed = self.fail is not None and self.fail in self.sql[-1]
        state = {"State": "FAILED", "StateChangeReason": "bad SQL"} if failed else {"State": "SUCCEEDED"}
        return {"QueryExecution": {"Status": state}}


class FakeContext:
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def _event(kind: str, views: list[dict[str, str]], old: list[dict[str, str]] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ResourceProperties": {"Database": "db", "WorkGroup": "wg", "Views": views},
    }
    if old is not None:
        event["OldResourceProperties"] = {"Database": "db", "WorkGroup": "wg", "Views": old}
    return event


def test_views_handler_creates_in_order_and_drops_removed() -> None:
    athena = FakeAthena()
    views = [{"Name": "a", "Sql": "CREATE VIEW a"}, {"Name": "b", "Sql": "CREATE VIEW b"}]
    athena_views.apply(_event("Create", views), FakeContext(), athena)
    assert athena.sql == ["CREATE VIEW a", "CREATE VIEW b"]
    athena.sql.clear()
    athena_views.apply(_event("Update", views[:1], old=views), FakeContext(), athena)
    assert athena.sql == ["CREATE VIEW a", "DROP VIEW IF EXISTS db.b"]
    athena.sql.clear()
    athena_views.apply(_event("Delete", views), FakeContext(), athena)
    assert athena.sql == ["DROP VIEW IF EXISTS db.b", "DROP VIEW IF EXISTS db.a"]


def test_views_handler_fails_naming_the_view() -> None:
    views = [{"Name": "a", "Sql": "CREATE VIEW a"}, {"Name": "b", "Sql": "CREATE VIEW broken"}]
    with pytest.raises(athena_views.ViewError, match=r"view db\.b: query q2 FAILED: bad SQL"):
        athena_views.apply(_event("Create", views), FakeContext(), FakeAthena(fail="broken"))
    # a delete never fails the stack
    athena_views.apply(_event("Delete", views), FakeContext(), FakeAthena(fail="DROP"))


@pytest.mark.parametrize("module", ["infra.settings", "infra.bundle", "infra.docker.parity_job"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
    assert result.attempted > 0
