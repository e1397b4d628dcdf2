"""Queue priority from the caller's applicant categories (PURE).

The IVR does not know who is calling; the caller's earlier registered appeals do: their applicant
categories (classifier 7.x, e.g. ``7.5`` combat participant) are looked up by the caller's number
(``callcenter.services.caller_categories``). DOMAIN.md: holders of statutory benefits (war
veterans, persons with disabilities, Chernobyl victims…) are considered first, so the queue
gives them a higher priority.

The queue file names its levels by readable keys (``priority_categories: {war_invalid: 3, …}``,
see ``queue/queues.yaml``) or by classifier code (``"7.4": 3``); :data:`CLASSIFIER_KEYS` maps
the codes to the readable keys the shipped file uses. A benefit category the file gives no level
still lifts the caller to :data:`BENEFIT_LEVEL` above ``base``: a forgotten line in the queue file
must not put a war veteran behind everyone else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from callcenter.acd.model import AcdConfig

__all__ = ["BENEFIT_LEVEL", "CLASSIFIER_KEYS", "priority_for"]

#: Classifier applicant-category codes -> the keys of ``queue/queues.yaml``'s priority_categories.
CLASSIFIER_KEYS: Final[Mapping[str, str]] = {
    "7.1": "war_participant",
    "7.3": "war_invalid",  # a person with a disability from the Second World War
    "7.4": "war_invalid",
    "7.5": "combat_participant",
    "7.7": "disability_group_1",
    "7.14": "chernobyl",
    "7.15": "chernobyl",
}
#: The least raise for an applicant category the queue file gives no level.
BENEFIT_LEVEL: Final = 1

_CATEGORY_CODE = re.compile(r"7\.\d+")


def priority_for(
    categories: Iterable[str],
    config: AcdConfig,
    *,
    base: int = 0,
    keys: Mapping[str, str] = CLASSIFIER_KEYS,
) -> int:
    """The queue priority of a caller with these categories (codes ``7.x`` or queue-file keys).

    The highest configured level among the categories wins (``AcdConfig.priority_of``, never
    below ``base``); a category code without a configured level counts as ``base +
    BENEFIT_LEVEL``; no categories (or only unknown non-classifier names) leave ``base``.
    """
    names: list[str] = []
    unconfigured_benefit = False
    for category in categories:
        names.append(category)
        key = keys.get(category)
        if key is not None:
            names.append(key)
        configured = category in config.priority_categories or (
            key is not None and key in config.priority_categories
        )
        if not configured and _CATEGORY_CODE.fullmatch(category):
            unconfigured_benefit = True
    level = config.priority_of(names, base)
    return max(level, base + BENEFIT_LEVEL) if unconfigured_benefit else level
