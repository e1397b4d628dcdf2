"""Automatic call distribution (PURE): queues, agents, skills, strategies, priorities, hours, EWT."""
