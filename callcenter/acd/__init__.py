"""Automatic call distribution (PURE): queues, agents, skills, strategies, priorities, hours, EWT.

``router.AcdState`` is what the adapters drive (events in, decisions out, time passed in);
``loader.load_acd_config`` turns ``queue/*.yaml`` text into its configuration and schedules;
``hours.ScheduleBook`` answers working-hours questions for the router and the IVR;
``desim.simulate`` runs the router under simulated load. ``core`` and ``index`` explain the data
structures and their costs, ``ewt`` the wait estimate.
"""
