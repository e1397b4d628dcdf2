"""IVR flows (PURE): the flow model, the YAML loader with validation, and the engine generator.

model       Flow, nodes, prompts, FlowError / FlowInvalid
loader      YAML text → Flow, schema errors with file:line:column
validate    graph and reference checks; load_flow, check_flow, validate_files
library     the active flows; an invalid new version never replaces a serving one
commands    what the engine yields and the results it takes back
engine      FlowRun: the generator that runs a call through a flow, and its CallPath
"""

from callcenter.ivr.engine import CallInfo, CallPath, FlowEnvironment, FlowRun, Outcome, run_flow
from callcenter.ivr.library import FlowLibrary
from callcenter.ivr.model import Flow, FlowError, FlowInvalid
from callcenter.ivr.validate import ValidationContext, check_flow, load_flow, validate_files

__all__ = [
    "CallInfo",
    "CallPath",
    "Flow",
    "FlowEnvironment",
    "FlowError",
    "FlowInvalid",
    "FlowLibrary",
    "FlowRun",
    "Outcome",
    "ValidationContext",
    "check_flow",
    "load_flow",
    "run_flow",
    "validate_files",
]
