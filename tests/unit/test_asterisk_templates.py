"""The ``{{name}}`` / ``{{#list}}…{{/list}}`` template language of ``asterisk-conf/*.conf.tmpl``."""

from __future__ import annotations

import pytest

from callcenter.errors import ConfigError
from callcenter.telephony.asterisk_templates import TemplateValue, render_template


def test_fields_blocks_and_asterisk_syntax_side_by_side() -> None:
    """Placeholders are filled, blocks repeat per item, and Asterisk's ${...} and $[...] stay as they are."""
    text = '[{{ctx}}]\n{{#agents}}\nexten => {{id}},1,Dial({{device}},30)\n{{/agents}}\nsame => n,GotoIf($["${X}" = "1"]?done)\n'
    out = render_template(
        text,
        {
            "ctx": "agent-phones",
            "agents": [{"id": "op1", "device": "PJSIP/op1"}, {"id": "op2", "device": "PJSIP/op2"}],
        },
    )
    assert out == (
        "[agent-phones]\nexten => op1,1,Dial(PJSIP/op1,30)\nexten => op2,1,Dial(PJSIP/op2,30)\n"
        'same => n,GotoIf($["${X}" = "1"]?done)\n'
    )


def test_empty_list_drops_an_optional_block_and_nested_blocks_see_outer_values() -> None:
    """An empty list removes its block; an inner block reads the outer item's values."""
    text = "{{#dids}}\n{{did}}\n{{#standby}}\nalso {{url}} for {{did}}\n{{/standby}}\n{{/dids}}\n"
    values: dict[str, TemplateValue] = {
        "dids": [{"did": "1", "standby": []}, {"did": "2", "standby": [{"url": "agi://b"}]}]
    }
    assert render_template(text, values) == "1\n2\nalso agi://b for 2\n"


def test_every_problem_is_reported_together() -> None:
    """Unknown names, a list used as text and text used as a block all appear in one ConfigError."""
    with pytest.raises(ConfigError) as caught:
        render_template("{{a}} {{b}} {{#c}}x{{/c}} {{#d}}", {"b": [], "c": "text"}, source="t.tmpl")
    problems = "\n".join(caught.value.problems)
    assert "unknown placeholder {{a}}" in problems
    assert "{{b}} is a list" in problems
    assert "{{#c}} needs a list" in problems


def test_an_unclosed_block_is_an_error() -> None:
    """A block without its closing tag is reported rather than left in the file."""
    with pytest.raises(ConfigError) as caught:
        render_template("{{#agents}}\n{{id}}\n", {"agents": [{"id": "op1"}]}, source="t.tmpl")
    assert any("unclosed" in p for p in caught.value.problems)
