"""The HTTP side (aiohttp): REST API, WebSocket feeds, the agent, supervisor and admin pages."""
