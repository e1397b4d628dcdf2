"""Queue priority from applicant categories: configured levels, classifier codes and the floor."""

from __future__ import annotations

from callcenter.acd.model import AcdConfig
from callcenter.acd.priority import BENEFIT_LEVEL, priority_for

CONFIG = AcdConfig(
    queues={},
    priority_categories={"war_invalid": 3, "combat_participant": 2, "chernobyl": 1, "7.16": 4},
)


def test_classifier_codes_take_the_queue_files_levels() -> None:
    """7.x codes map to the queue file's readable keys; the highest level among them wins."""
    assert priority_for(("7.5",), CONFIG) == 2
    assert priority_for(("7.14", "7.4"), CONFIG) == 3
    assert priority_for(("7.16",), CONFIG) == 4  # a level keyed by the code itself


def test_a_benefit_category_without_a_level_still_raises_the_call() -> None:
    """A 7.x category the queue file forgot lifts the caller by BENEFIT_LEVEL above the base."""
    assert priority_for(("7.11",), CONFIG) == BENEFIT_LEVEL
    assert priority_for(("7.11",), CONFIG, base=2) == 2 + BENEFIT_LEVEL
    assert priority_for(("7.11", "7.5"), CONFIG) == 2


def test_no_categories_leave_the_base() -> None:
    """No category, or a name that is neither configured nor a classifier code, keeps the base."""
    assert priority_for((), CONFIG) == 0
    assert priority_for((), CONFIG, base=2) == 2
    assert priority_for(("pensioner",), CONFIG) == 0
    assert priority_for(("7.5",), CONFIG, base=5) == 5  # a higher base is never lowered
