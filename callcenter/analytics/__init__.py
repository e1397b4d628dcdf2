"""Call analytics (PURE): call facts from events, KPI definitions, Erlang C, interval rollups.

Modules: ``events`` (the input vocabulary), ``facts`` (call / stint / leg rows from events),
``sessions`` (agent sessions), ``kpi`` (the one KPI definition, live and reports), ``rollup``
(15-minute rows per queue and overall), ``hours`` (heatmap, out-of-hours demand, hours to add),
``erlang`` and ``staffing`` (Erlang C agents needed vs staffed), ``synthetic`` (seeded test days).
Definitions and the reasons for them: docs/kpi.md.
"""
