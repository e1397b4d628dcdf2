"""The words of the report charts and tables, and how they write numbers and dates.

``callcenter.reports_svg`` draws the reports; what it writes on them (titles, table headers,
legends, units, weekday names) and how (decimal mark, date format) comes from a
:class:`ReportLanguage`. The CLI's report file is English (:data:`ENGLISH`, the texts below); the
supervisors' analytics page passes its own, Ukrainian by default, from ``analytics.i18n.json``
(whose ``en`` part repeats :data:`ENGLISH_TEXTS`, checked by a test, so the English page says what
the CLI says).

Texts are ``str.format`` templates with named fields (``"queue {queue}"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

__all__ = ["ENGLISH", "ENGLISH_TEXTS", "ReportLanguage"]

#: Every text a report needs, in English (as ``callcenter report`` writes them).
ENGLISH_TEXTS: dict[str, str] = {
    # Number and date conventions.
    "decimal_mark": ".",
    "date_format": "%Y-%m-%d",
    "percent": "{value} %",
    "seconds": "{value} s",
    "hours": "{value} h",
    # Headings.
    "title_load": "Load and staffing",
    "title_hours": "Working hours",
    "title_agents": "Agents",
    "report_heading": "{title} — {queue}, {range}",
    "whole_line": "whole line",
    "one_queue": "queue {queue}",
    "range": "{first} – {last}",
    "none": "(none)",
    "weekday_0": "Mon",
    "weekday_1": "Tue",
    "weekday_2": "Wed",
    "weekday_3": "Thu",
    "weekday_4": "Fri",
    "weekday_5": "Sat",
    "weekday_6": "Sun",
    # Load and staffing.
    "summary": "Summary",
    "col_calls": "Calls",
    "col_offered": "Offered",
    "col_answered": "Answered",
    "col_abandoned": "Abandoned",
    "col_short_abandoned": "Short abandons",
    "col_overflowed": "Overflow",
    "col_callbacks": "Callbacks",
    "col_service_level": "Service level",
    "col_asa": "ASA",
    "col_aht": "AHT",
    "col_abandon_rate": "Abandon rate",
    "col_under_intervals": "Under-staffed intervals",
    "col_over_intervals": "Over-staffed intervals",
    "chart_calls": "Calls offered by outcome",
    "series_answered": "answered",
    "series_abandoned": "abandoned",
    "series_short_abandoned": "short abandon",
    "series_overflow_callback": "overflow/callback",
    "axis_calls": "calls",
    "chart_staffing": "Agents needed (Erlang C, {goal} % in {target} s) vs staffed",
    "series_needed": "needed",
    "series_staffed": "staffed",
    "axis_agents": "agents",
    "mark_under": "understaffed",
    "mark_over": "overstaffed",
    "chart_sl": "Service level",
    "series_service_level": "service level",
    "axis_in_target": "answered in target",
    "by_period": "By period",
    "col_period": "Period",
    "col_sl": "SL",
    "col_period_asa": "ASA",
    "col_period_aht": "AHT",
    "col_needed": "Needed",
    "col_staffed": "Staffed",
    "col_staffing": "Staffing",
    "staffing_ok": "ok",
    "staffing_under": "under",
    "staffing_over": "over",
    # Working hours.
    "col_closed_calls": "Calls while closed",
    "col_closed_share": "Share while closed",
    "col_weeks": "Weeks in range",
    "chart_heatmap": "Calls by weekday and hour (Kyiv time)",
    "heatmap_cell": "{weekday} {hour}:00 — {calls} calls",
    "heatmap_closed": " (closed)",
    "heatmap_legend": "closed hours (the line was closed in most of the hour)",
    "chart_add_hours": "Closed hours worth opening: callers per week",
    "series_per_week": "callers per week",
    "unit_per_week": "/wk",
    "hours_to_add": "Hours to add",
    "col_rank": "Rank",
    "col_weekday": "Weekday",
    "col_hour": "Hour",
    "col_callers": "Callers in range",
    "col_per_week": "Callers per week",
    # Agents.
    "series_handling": "handling calls",
    "series_available": "available",
    "series_break": "break: {reason}",
    "series_nothing": "none",
    "chart_agent_time": "Logged-in time by activity",
    "unit_hours": "h",
    "chart_agent_calls": "Calls handled",
    "series_handled": "handled",
    "unit_calls": "calls",
    "agents_table": "Agents",
    "col_agent": "Agent",
    "col_sessions": "Sessions",
    "col_logged_in": "Logged in",
    "col_break": "Break: {reason}",
    "col_available": "Available",
    "col_handled": "Handled",
    "col_agent_aht": "AHT",
    "col_no_answers": "Ring no answer",
}


@dataclass(frozen=True, slots=True)
class ReportLanguage:
    """The texts a report is written with (every key of :data:`ENGLISH_TEXTS`), and optional
    names for pause reasons (``reason_<code>``; a reason without one is shown as its code)."""

    texts: Mapping[str, str]

    def __post_init__(self) -> None:
        missing = sorted(set(ENGLISH_TEXTS) - set(self.texts))
        if missing:
            raise ValueError(f"report texts lack {', '.join(missing)}")

    def text(self, key: str, **values: object) -> str:
        """The text ``key`` with ``values`` filled in."""
        return self.texts[key].format(**values) if values else self.texts[key]

    def number(self, value: float, digits: int) -> str:
        """``value`` with ``digits`` decimals and this language's decimal mark."""
        return f"{value:.{digits}f}".replace(".", self.texts["decimal_mark"])

    def day(self, value: date) -> str:
        """A calendar day (2026-03-04 in English, 04.03.2026 in Ukrainian)."""
        return value.strftime(self.texts["date_format"])

    def weekday(self, index: int) -> str:
        """The short name of weekday ``index`` (0 is Monday)."""
        return self.texts[f"weekday_{index}"]

    def reason(self, code: str) -> str:
        """A pause reason's name (its code when this language has none)."""
        return self.texts.get(f"reason_{code}", code)


#: The CLI's language.
ENGLISH = ReportLanguage(ENGLISH_TEXTS)
