"""The check every bilingual page's texts share: both languages, the same keys, the same fields."""

from __future__ import annotations

import string
from collections.abc import Mapping

__all__ = ["assert_same_keys_and_placeholders"]


def assert_same_keys_and_placeholders(
    texts: Mapping[str, Mapping[str, str]], *, skip_prefixes: tuple[str, ...] = ()
) -> None:
    """``texts`` has exactly ``uk`` and ``en`` with the same keys, and each text names the same
    ``{placeholders}`` in both (keys starting with ``skip_prefixes`` may word their fields apart)."""
    assert set(texts) == {"uk", "en"} and set(texts["uk"]) == set(texts["en"])
    fields = string.Formatter()
    for key in texts["uk"]:
        if key.startswith(skip_prefixes):  # False for no prefixes
            continue
        names = [{name for _, name, _, _ in fields.parse(texts[lang][key]) if name} for lang in ("uk", "en")]
        assert names[0] == names[1], key
