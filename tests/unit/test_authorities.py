"""The authority list model and loader (pure): the shipped list, field rules, list-wide checks."""

from __future__ import annotations

import pytest

from callcenter.appeals.authorities import (
    Authority,
    AuthorityKind,
    parse_authorities,
    parse_authority,
    shipped_authorities,
    validate_list,
)
from callcenter.errors import ValidationError


def test_shipped_list_covers_an_oblast() -> None:
    """The shipped list has the ОДА, its departments, the Pension Fund, districts, councils and utilities."""
    items = shipped_authorities()
    by_id = {a.id: a for a in items}
    assert len(by_id) == len(items) >= 30
    assert by_id["oda"].kind is AuthorityKind.OBLAST_ADMINISTRATION
    assert by_id["oda-health"].parent_id == "oda" and "охорони здоров'я" in by_id["oda-health"].name
    assert by_id["pfu-oblast"].kind is AuthorityKind.TERRITORIAL_BODY
    kinds = {a.kind for a in items}
    assert {AuthorityKind.DISTRICT_ADMINISTRATION, AuthorityKind.UTILITY, AuthorityKind.CITY_COUNCIL} <= kinds
    assert validate_list(items) == []
    assert [a.sort_order for a in items] == sorted(a.sort_order for a in items)


def test_parse_authority_normalises_and_accepts_parent_id() -> None:
    """Spacing is folded, ``parent_id`` means ``parent``, and defaults fill the rest."""
    item = parse_authority(
        {
            "id": "util-water",
            "name": "  КП  «Водоканал» ",
            "kind": "utility",
            "parent_id": "city",
            "email": "a@b.ua",
        }
    )
    assert item == Authority(
        "util-water", "КП «Водоканал»", AuthorityKind.UTILITY, parent_id="city", email="a@b.ua"
    )
    assert item.label == "КП «Водоканал»"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"id": "Bad Id", "name": "x", "kind": "utility"}, "id"),
        ({"id": "ok-id", "name": " ", "kind": "utility"}, "name"),
        ({"id": "ok-id", "name": "x", "kind": "ministry"}, "kind"),
        ({"id": "ok-id", "name": "x", "kind": "utility", "email": "nope"}, "email"),
        ({"id": "ok-id", "name": "x", "kind": "utility", "parent": "ok-id"}, "parent"),
        ({"id": "ok-id", "name": "x", "kind": "utility", "active": "yes"}, "active"),
        ({"id": "ok-id", "name": "x", "kind": "utility", "colour": "red"}, "colour"),
    ],
)
def test_parse_authority_names_the_bad_field(raw: dict[str, object], field: str) -> None:
    """Each kind of bad input is refused with the field it concerns."""
    with pytest.raises(ValidationError) as caught:
        parse_authority(raw)
    assert caught.value.field == field


def test_list_checks_duplicates_unknown_parents_and_cycles() -> None:
    """A list with a duplicate id, a missing parent and a parent cycle reports all three."""
    items = [
        Authority("a1", "A", AuthorityKind.OTHER, parent_id="b1"),
        Authority("b1", "B", AuthorityKind.OTHER, parent_id="a1"),
        Authority("c1", "C", AuthorityKind.OTHER, parent_id="zz"),
        Authority("c1", "C again", AuthorityKind.OTHER),
    ]
    problems = validate_list(items)
    assert "c1: listed twice" in problems
    assert "c1: parent 'zz' is not in the list" in problems
    assert any("a1: its parents form a cycle" == p for p in problems)


def test_parse_authorities_reports_every_entry_at_once() -> None:
    """Two bad entries in a file are both reported, each with its position and id."""
    text = """
authorities:
  - {id: good, name: "Good", kind: other}
  - {id: BAD, name: "Bad", kind: other}
  - {id: worse, name: "", kind: nothing}
"""
    with pytest.raises(ValidationError) as caught:
        parse_authorities(text, "test.yaml")
    message = str(caught.value)
    assert "test.yaml: entry 2 (BAD): id:" in message
    assert "test.yaml: entry 3 (worse): name: required; kind:" in message


def test_parse_authorities_refuses_a_file_without_a_list() -> None:
    """A document that is not a mapping with an ``authorities`` list is refused."""
    with pytest.raises(ValidationError):
        parse_authorities("- just a list")
    with pytest.raises(ValidationError):
        parse_authorities("authorities: [")
