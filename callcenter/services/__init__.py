"""Runtime services: the asyncio side that drives the pure core with the adapters.

Where the pure packages decide (``acd``, ``ivr``, ``appeals``, ``analytics``) and the adapters talk
(``telephony``, ``storage``, ``web``), a service holds a call or an agent over time: it owns
timers and futures, turns the core's decisions into AGI/AMI commands and database writes, and
publishes what happened on the in-process bus (``callcenter.bus``). The composition root
(``callcenter.app``) builds them.

Modules: ``acd`` (``AcdService``: the ACD router's timers, waiting callers, callbacks over AMI,
agent phones' device states), ``queue_wait`` (``QueueWait``: the caller's wait inside its FastAGI
session, the IVR's ``enter_queue``), ``queue_config`` (``QueueConfigStore``: ``queue/*.yaml``
watched and applied at run time), ``live_events`` (what is published on the bus).
"""
