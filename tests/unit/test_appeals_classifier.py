"""The classifier lists: shipped data, admin extensions and the errors a bad file gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.appeals.classifier import LISTS, load_classifier, parse_list
from callcenter.errors import ValidationError


def test_shipped_lists_load_with_the_key_codes() -> None:
    """Every list ships, with telephone 1.1.1, the three signs and the priority categories."""
    classifier = load_classifier()
    assert set(classifier.lists) == set(LISTS)
    assert classifier.require("receipt_forms", "1.1.1", field="receipt_form").name.startswith("Телефоном")
    assert [e.code for e in classifier.entries("signs")][:3] == ["2.1", "2.2", "2.3"]
    assert [e.code for e in classifier.entries("kinds")] == ["3.1", "3.2", "3.3"]
    categories = {e.code: e for e in classifier.entries("applicant_categories")}
    assert categories["7.1"].priority  # war participant
    assert categories["7.7"].priority  # disability group I
    assert categories["7.14"].priority and "Чорнобиль" in categories["7.14"].name
    assert categories["7.4"].head_review
    assert any("переміщена" in e.name for e in categories.values())  # IDPs
    assert classifier.get("topics", "124") is not None and classifier.get("topics", "999") is None


def test_unknown_code_error_names_the_field() -> None:
    """require() raises a ValidationError naming the form field."""
    with pytest.raises(ValidationError) as caught:
        load_classifier().require("topics", "999", field="topic_code")
    assert caught.value.field == "topic_code"


def test_extension_adds_codes_after_the_shipped_ones(tmp_path: Path) -> None:
    """An admin file adds new codes to a list, after the shipped entries."""
    (tmp_path / "topics.yaml").write_text(
        'list: topics\nsection: ""\nentries:\n  - {code: "106.1", name: "Субсидії"}\n', encoding="utf-8"
    )
    (tmp_path / "results.yaml").write_text(
        'list: results\nsection: "9"\nentries:\n  - {code: "9.4", name: "Інше"}\n', encoding="utf-8"
    )
    classifier = load_classifier(tmp_path)
    assert classifier.entries("topics")[-1].code == "106.1"
    assert classifier.require("results", "9.4", field="result_code").source.endswith("results.yaml")
    assert load_classifier().get("topics", "106.1") is None  # the shipped lists are untouched


@pytest.mark.parametrize(
    ("filename", "text", "message"),
    [
        (
            "topics.yaml",
            'list: topics\nsection: ""\nentries:\n  - {code: "101", name: "x"}\n',
            "already defined",
        ),
        ("colours.yaml", "list: colours\nentries: []\n", "no classifier list"),
        (
            "signs.yaml",
            'list: topics\nsection: "2"\nentries:\n  - {code: "2.9", name: "x"}\n',
            "expected 'signs'",
        ),
        (
            "signs.yaml",
            'list: signs\nsection: "2"\nentries:\n  - {code: 2.9, name: "x"}\n',
            "quoted dotted number",
        ),
        (
            "signs.yaml",
            'list: signs\nsection: "2"\nentries:\n  - {code: "7.9", name: "x"}\n',
            "outside section",
        ),
        (
            "signs.yaml",
            'list: signs\nsection: "2"\nentries:\n  - {code: "2.9", name: " "}\n',
            "non-empty name",
        ),
        (
            "signs.yaml",
            'list: signs\nsection: "2"\nentries:\n  - {code: "2.9", name: "x", priority: true}\n',
            "only meaningful",
        ),
        (
            "signs.yaml",
            'list: signs\nsection: "2"\nentries:\n  - {code: "2.9", name: "x", colour: 1}\n',
            "unknown keys",
        ),
        ("signs.yaml", 'list: signs\nsection: "7"\nentries:\n  - {code: "7.99", name: "x"}\n', "differs"),
        ("signs.yaml", "list: signs\nentries: [\n", "not valid YAML"),
        ("signs.yaml", 'list: signs\nsection: "2"\nentries: []\n', "non-empty list"),
    ],
)
def test_bad_extension_files_are_refused_with_their_location(
    tmp_path: Path, filename: str, text: str, message: str
) -> None:
    """A bad extension file raises a ValidationError that says what is wrong and where."""
    (tmp_path / filename).write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError, match=message) as caught:
        load_classifier(tmp_path)
    assert filename in str(caught.value)


def test_duplicate_codes_within_a_file_are_refused() -> None:
    """The same code twice in one file is an error naming the code."""
    text = 'list: signs\nsection: "2"\nentries:\n  - {code: "2.9", name: "a"}\n  - {code: "2.9", name: "b"}\n'
    with pytest.raises(ValidationError, match=r"2\.9 appears twice"):
        parse_list("signs", text, "signs.yaml")


def test_missing_extension_folder_is_an_error(tmp_path: Path) -> None:
    """Pointing at a folder that does not exist is reported, not ignored."""
    with pytest.raises(ValidationError, match="does not exist"):
        load_classifier(tmp_path / "nope")
