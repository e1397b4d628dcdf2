"""IVR flows (PURE): the flow model, the YAML loader with validation, and the engine generator."""
