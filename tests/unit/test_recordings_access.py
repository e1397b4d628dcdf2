"""The listening rule ``may_hear`` and the download rule ``may_download``, case by case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from callcenter.appeals.model import Appeal, CallTrack
from callcenter.services.recordings import may_download, may_hear
from callcenter.storage.recordings import Recording, RecordingStatus
from callcenter.storage.users import Role, User

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def user(login: str, role: Role, *, authority: str | None = None, disabled: bool = False) -> User:
    return User(1, login, login, role, authority_id=authority, disabled=disabled)


def recording(agent: str | None = "op101") -> Recording:
    return Recording(
        id=7,
        linkedid="1718000000.8",
        leg=1,
        appeal_id=None,
        queue="general",
        agent=agent,
        path="2026/11/24/1718000000.8.wav",
        bytes=1044,
        duration_ms=1000,
        sha256="0" * 64,
        status=RecordingStatus.OK,
        problem=None,
        flagged=False,
        started_at=AT,
        ended_at=AT,
        deleted_at=None,
    )


def appeal(
    *, agent: str | None = "op101", registered_by: str | None = None, authority: str | None = None
) -> Appeal:
    call = CallTrack(caller="380501234567", dnid="0800507506", arrived_at=AT, agent=agent)
    return Appeal(uuid4(), "1718000000.8", call, registered_by=registered_by, authority=authority)


def test_agent_hears_the_call_they_took() -> None:
    """An agent whose login is the recording's agent id may listen."""
    assert may_hear(user("op101", Role.AGENT), recording("op101"), None)


def test_agent_does_not_hear_another_agents_call() -> None:
    """An agent may not listen to a call another agent took, with or without its appeal."""
    other = user("op102", Role.AGENT)
    assert not may_hear(other, recording("op101"), None)
    assert not may_hear(other, recording("op101"), appeal(agent="op101"))


def test_agent_id_mapping_is_used_instead_of_the_login() -> None:
    """When the ACD agent id differs from the login, the given ``agent_id`` decides."""
    olena = user("olena", Role.AGENT)
    assert not may_hear(olena, recording("op101"), None)
    assert may_hear(olena, recording("op101"), None, agent_id="op101")


def test_agent_hears_through_the_appeal_they_handle() -> None:
    """The call's agent on the record, or the agent who registered the appeal, may listen."""
    rec = recording(agent=None)
    assert may_hear(user("op101", Role.AGENT), rec, appeal(agent="op101"))
    assert may_hear(user("op105", Role.AGENT), rec, appeal(agent="op101", registered_by="op105"))
    assert not may_hear(user("op106", Role.AGENT), rec, appeal(agent="op101", registered_by="op105"))


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN])
def test_supervisors_and_admins_hear_every_call(role: Role) -> None:
    """Supervisors and admins may listen to any recording, linked or not."""
    assert may_hear(user("boss", role), recording("op101"), None)
    assert may_hear(user("boss", role), recording(None), appeal(agent="op109"))


def test_authority_hears_only_appeals_forwarded_to_it() -> None:
    """An authority's representative hears its own appeals' calls (case-insensitive), nothing else."""
    rep = user("rep", Role.AUTHORITY, authority="oda-kyiv")
    assert may_hear(rep, recording(), appeal(authority="ODA-Kyiv"))
    assert not may_hear(rep, recording(), appeal(authority="oda-lviv"))
    assert not may_hear(rep, recording(), appeal(authority=None))
    assert not may_hear(rep, recording(), None)
    assert not may_hear(user("rep2", Role.AUTHORITY, authority=None), recording(), appeal(authority=None))


def test_disabled_account_hears_nothing() -> None:
    """A disabled user is refused even with a role that would allow it."""
    assert not may_hear(user("boss", Role.ADMIN, disabled=True), recording(), None)
    assert not may_hear(user("op101", Role.AGENT, disabled=True), recording("op101"), None)


def test_download_is_for_supervisors_and_admins_only() -> None:
    """The agent who took the call may listen but not download; a supervisor may do both."""
    rec = recording("op101")
    assert not may_download(user("op101", Role.AGENT), rec, None)
    assert may_download(user("sup", Role.SUPERVISOR), rec, None)
    assert may_download(user("adm", Role.ADMIN), rec, None)
    assert not may_download(user("rep", Role.AUTHORITY, authority="oda"), rec, appeal(authority="oda"))
    assert not may_download(user("sup", Role.SUPERVISOR, disabled=True), rec, None)


def test_rule_does_not_depend_on_the_file_state() -> None:
    """Access is about the person: a flagged or deleted recording is refused elsewhere, not here."""
    rec = replace(recording("op101"), status=RecordingStatus.BROKEN, flagged=True)
    assert may_hear(user("op101", Role.AGENT), rec, None)
