"""The set of active flows, where an invalid new version never replaces the one serving calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from callcenter.ivr.model import Flow, FlowError
from callcenter.ivr.validate import ValidationContext, check_flow

__all__ = ["FlowLibrary"]


class FlowLibrary:
    """Active flows by name. ``load_*`` validate first and activate only a flow without errors."""

    def __init__(self, context: ValidationContext) -> None:
        self.context = context
        self._flows: dict[str, Flow] = {}

    @property
    def flows(self) -> Mapping[str, Flow]:
        """A read-only view of the active flows (what ``FlowEnvironment.flows`` takes)."""
        return MappingProxyType(self._flows)

    def get(self, name: str) -> Flow | None:
        """The active version of a flow, if any."""
        return self._flows.get(name)

    def load_text(
        self, name: str, text: str, filename: str, *, also_known: frozenset[str] = frozenset()
    ) -> list[FlowError]:
        """Validate a flow's text; activate it if there is no error. Returns the errors."""
        context = replace(
            self.context, flows=self.context.flows | frozenset(self._flows) | also_known | {name}
        )
        flow, errors = check_flow(text, filename, context, name=name)
        if flow is not None:
            self._flows[name] = flow
        return errors

    def load_dir(self, directory: Path) -> list[FlowError]:
        """(Re)load every ``*.yaml`` flow in a folder; invalid ones keep their previous version."""
        paths = sorted(directory.glob("*.yaml"))
        names = frozenset(p.stem for p in paths)
        errors: list[FlowError] = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(FlowError(str(path), 1, 1, f"cannot read the flow file: {exc}"))
                continue
            errors += self.load_text(path.stem, text, str(path), also_known=names)
        return errors
