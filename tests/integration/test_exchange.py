"""The exchange export on PostgreSQL: valid against its schema, complete histories, no personal data."""

from __future__ import annotations

import argparse
import itertools
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.config import Settings
from callcenter.exchange import (
    ExportRefused,
    add_export_parser,
    export_appeals,
    export_command,
    run_export,
    validate_document,
)
from callcenter.storage.users import Role, create_user
from tests.integration.test_official_support import make_appeals

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
PERIOD = (date(2026, 9, 1), date(2026, 9, 30))


async def test_export_validates_and_carries_every_status_change(db_pool: Any) -> None:
    """The export of September validates against the schema and lists each appeal's status history."""
    made = await make_appeals(
        db_pool, prefix="ex", start=datetime(2026, 9, 2, 6, tzinfo=UTC), count=15, seed=8, consultations=2
    )
    document = await export_appeals(db_pool, *PERIOD, generated_at=NOW)
    assert validate_document(document) == []
    assert [a["id"] for a in document["appeals"]] == [str(a.id) for a in made.appeals]
    for exported, appeal in zip(document["appeals"], made.appeals, strict=True):
        changes = exported["status_changes"]
        assert changes[0]["from"] == "call_open" and changes[0]["to"] == "registered"
        assert changes[-1]["to"] == appeal.status.value == exported["status"]
        assert all(a["to"] == b["from"] for a, b in itertools.pairwise(changes))
        assert exported["classifier"]["topic"] == appeal.topic_code
        assert exported["classifier"]["result"] == appeal.result_code
    text = json.dumps(document, ensure_ascii=False)
    assert "380501234567" not in text and "Шевченко" not in text and "Немає опалення" not in text
    assert all("applicant" not in a and "essence" not in a for a in document["appeals"])


async def test_schema_rejects_a_broken_document(db_pool: Any) -> None:
    """A document with a wrong code, a missing field or personal data it denies fails validation."""
    document = await export_appeals(db_pool, *PERIOD, generated_at=NOW)
    assert document["appeals"], "the previous test's appeals are in the module's schema"
    broken = json.loads(json.dumps(document))
    broken["appeals"][0]["classifier"]["type"] = "3.9"
    del broken["appeals"][1]["status_changes"]
    broken["appeals"][2]["applicant"] = {"surname": "x"}
    problems = validate_document(broken)
    assert len(problems) >= 3


async def test_personal_data_only_for_an_admin_and_audited(db_pool: Any, tmp_path: Path) -> None:
    """Personal data needs an admin; the admin's export has names and phones and is audited."""
    supervisor = await create_user(db_pool, "sup.ex", Role.SUPERVISOR, "x")
    with pytest.raises(ExportRefused):
        await export_appeals(db_pool, *PERIOD, generated_at=NOW, include_personal_data=True, user=supervisor)
    with pytest.raises(ExportRefused):
        await export_appeals(db_pool, *PERIOD, generated_at=NOW, include_personal_data=True)
    await create_user(db_pool, "admin.ex", Role.ADMIN, "x")
    out = tmp_path / "export.json"
    args = argparse.Namespace(
        date_from="2026-09-01", date_to="2026-09-30", out=out, include_personal_data=True, as_login="admin.ex"
    )
    await run_export(db_pool, args, now=NOW)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert validate_document(document) == [] and document["personal_data"] is True
    assert document["appeals"][0]["applicant"]["phone"] == "+380501234567"
    audited = await db_pool.fetchrow("SELECT actor, details FROM audit_log WHERE action = 'appeal.export'")
    assert audited["actor"] == "admin.ex" and audited["details"]["appeals"] == len(document["appeals"])


def test_cli_refuses_bad_arguments_before_touching_the_database(capsys: pytest.CaptureFixture[str]) -> None:
    """Bad dates, a reversed range or personal data without --as exit 2 and open no database."""
    parser = argparse.ArgumentParser()
    add_export_parser(parser.add_subparsers(dest="command"))
    for argv in (
        ["export-appeals", "--from", "2026-09-31", "--to", "2026-10-01"],
        ["export-appeals", "--from", "2026-10-02", "--to", "2026-10-01"],
        ["export-appeals", "--from", "2026-10-01", "--to", "2026-10-02", "--include-personal-data"],
    ):
        assert export_command(Settings(), parser.parse_args(argv)) == 2
    assert capsys.readouterr().err.count("callcenter export-appeals:") == 3
