"""Names shared by the backend and the shipped Asterisk dialplan (``asterisk-conf/extensions.conf``).

The backend dials, originates and redirects into dialplan contexts it does not own; a renamed
context on either side breaks calls silently (Asterisk just hangs the channel up). So every
context, extension and channel variable the two sides agree on is defined here once: the ACD
runtime, the IVR driver and the wallboard import these constants, the renderer
(:mod:`callcenter.telephony.asterisk_conf`) fills the templates with them, and
``tests/integration/test_asterisk_conf.py`` checks that every context in
:data:`BACKEND_CONTEXTS` exists in the rendered ``extensions.conf``.

Who uses what:

* inbound: the trunk delivers the DID to :data:`INBOUND_CONTEXT`, which stamps
  :data:`ARRIVED_VARIABLE`, calls FastAGI and looks at :data:`HANDLED_VARIABLE` (see
  ``agi/README.md``); anything else takes the survival path into app_queue's
  :data:`SURVIVAL_QUEUE`;
* callbacks: the ACD originates the agent's phone (``AMI Originate``) into
  :data:`CALLBACK_CONTEXT` with the citizen's number as the extension and the variables
  :data:`CALLBACK_ID_VARIABLE` / :data:`CALLBACK_AGENT_VARIABLE`; the dialplan then dials the
  citizen through :data:`TRUNK_ENDPOINT`;
* outside transfers: the IVR's ``transfer`` node dials ``Local/<number>@``:data:`TRANSFER_CONTEXT`
  (:func:`transfer_channel`);
* supervision: the wallboard (``callcenter.web.wallboard``) originates the supervisor's phone
  straight into the ChanSpy application (``Application=ChanSpy``, which AMI's ``originate`` class
  allows; only shell-like applications need ``system``), setting :data:`SPY_MODE_VARIABLE` to one
  of :data:`SPY_MODES`. :data:`SPY_CONTEXT` does the same from the dialplan, with the agent id as
  the extension: supervisors' phones reach it by feature code (``*222<agent id>``) when the
  wallboard is down, and an Originate may target it instead of the application.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "AGENT_PHONES_CONTEXT",
    "ARRIVED_VARIABLE",
    "BACKEND_CONTEXTS",
    "CALLBACK_AGENT_VARIABLE",
    "CALLBACK_CONTEXT",
    "CALLBACK_ID_VARIABLE",
    "HANDLED_VARIABLE",
    "INBOUND_CONTEXT",
    "SPOOLED_VARIABLE",
    "SPY_CONTEXT",
    "SPY_MODES",
    "SPY_MODE_VARIABLE",
    "SUPERVISOR_PHONES_CONTEXT",
    "SURVEY_AGI_VARIABLE",
    "SURVEY_APPEAL_VARIABLE",
    "SURVEY_CONTEXT",
    "SURVIVAL_QUEUE",
    "TRANSFER_CONTEXT",
    "TRUNK_ENDPOINT",
    "spy_variables",
    "transfer_channel",
]

#: Where the SIP trunk delivers calls to the hotline numbers (the DID is the extension).
INBOUND_CONTEXT: Final = "from-pstn"
#: An Originated callback continues here once the agent answered; the extension is the number.
CALLBACK_CONTEXT: Final = "callback"
#: The IVR's transfer node dials ``Local/<number>@hotline-transfer``.
TRANSFER_CONTEXT: Final = "hotline-transfer"
#: Listen-in from the dialplan: the extension is the agent id, CC_SPY_MODE the mode.
SPY_CONTEXT: Final = "supervisor-spy"
#: Calls placed from agents' phones (each other, feature codes, national numbers).
AGENT_PHONES_CONTEXT: Final = "agent-phones"
#: Calls placed from supervisors' phones: the agents' context plus the listen-in feature codes.
SUPERVISOR_PHONES_CONTEXT: Final = "supervisor-phones"

#: An outbound survey call (``services.survey_campaigns``) continues here once the citizen answers;
#: the extension is ``s``, the dialplan runs ``AGI(${CC_SURVEY_AGI})``.
SURVEY_CONTEXT: Final = "survey-call"
#: The survey flow's FastAGI URL (with ``campaign=1&appeal=<id>``), set by the Originate.
SURVEY_AGI_VARIABLE: Final = "CC_SURVEY_AGI"
#: The appeal the survey call is about (for the dialplan's log line).
SURVEY_APPEAL_VARIABLE: Final = "CC_SURVEY_APPEAL"

#: Every context the backend itself sends channels into (checked against the rendered dialplan).
BACKEND_CONTEXTS: Final = (CALLBACK_CONTEXT, TRANSFER_CONTEXT, SURVEY_CONTEXT)

#: The app_queue queue of the survival path (backend down or full).
SURVIVAL_QUEUE: Final = "survival"
#: The PJSIP endpoint of the operator's trunk; outside numbers are dialled as ``PJSIP/<n>@trunk``.
TRUNK_ENDPOINT: Final = "trunk"

#: ``1`` when the backend took the call (set by the FastAGI server, see agi/README.md).
HANDLED_VARIABLE: Final = "CC_HANDLED"
#: Arrival time (``${EPOCH}``) stamped by the dialplan before FastAGI; the spool script reads it.
ARRIVED_VARIABLE: Final = "CC_ARRIVED"
#: ``1``/``0``: whether the survival spool script wrote its file.
SPOOLED_VARIABLE: Final = "CC_SPOOLED"
#: Set on an Originated callback: the ACD's call id and the agent taking it.
CALLBACK_ID_VARIABLE: Final = "CC_CALLBACK_ID"
CALLBACK_AGENT_VARIABLE: Final = "CC_AGENT_ID"
#: How the supervisor joins: ``listen`` (silent), ``whisper`` (agent hears), ``barge`` (both hear).
SPY_MODE_VARIABLE: Final = "CC_SPY_MODE"
SPY_MODES: Final = ("listen", "whisper", "barge")


def transfer_channel(number: str) -> str:
    """The Dial string of an outside transfer to ``number``."""
    return f"Local/{number}@{TRANSFER_CONTEXT}"


def spy_variables(mode: str) -> dict[str, str]:
    """The Originate variables for a listen-in in ``mode``; ValueError for an unknown mode."""
    if mode not in SPY_MODES:
        raise ValueError(f"spy mode must be one of {', '.join(SPY_MODES)}, not {mode!r}")
    return {SPY_MODE_VARIABLE: mode}
