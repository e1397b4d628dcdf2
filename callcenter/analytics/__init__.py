"""Call analytics (PURE): call facts from events, KPI definitions, Erlang C, interval rollups."""
