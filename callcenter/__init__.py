"""callcenter: the call-handling backend for Ukraine's citizens' hotlines.

Asterisk answers the call and runs the dialplan; this package holds the call while the caller is in
the IVR and the queue (FastAGI), watches the PBX (AMI), distributes calls to agents (ACD), keeps an
appeal record for every call, and serves the agent desk, the supervisor wallboard and the admin pages.

The pure core (``ivr``, ``acd``, ``appeals``, ``analytics``) does no I/O and never reads the clock;
the adapters (``telephony``, ``storage``, ``web``, ``sim``) drive it.
"""

__version__ = "0.1.0"
