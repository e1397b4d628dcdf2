"""Runtime services: the asyncio side that drives the pure core with the adapters.

Where the pure packages decide (``acd``, ``ivr``, ``appeals``, ``analytics``) and the adapters talk
(``telephony``, ``storage``, ``web``), a service holds a call or an agent over time: it owns
timers and futures, turns the core's decisions into AGI/AMI commands and database writes, and
publishes what happened on the in-process bus (``callcenter.bus``). The composition root
(``callcenter.app``) builds them.
"""
