"""The catalogue of flow errors: every message the loader and validator give, at its location.

Each case is a small flow with one mistake, the text the error must point at, and the message.
"""

from __future__ import annotations

import pytest

from callcenter.ivr import ValidationContext, check_flow

CONTEXT = ValidationContext(
    queues=frozenset({"general"}),
    schedules=frozenset({"office"}),
    skills=frozenset({"general"}),
    flows=frozenset({"other"}),
)
HEAD = 'languages: [uk, en]\nstart: a\nprompts:\n  hi: {uk: "Привіт", en: "Hi"}\n'


def flow(nodes: str, head: str = HEAD) -> str:
    return f"{head}nodes:\n{nodes}  z:\n    type: hangup\n"


def node(body: str) -> str:
    """A start node `a` with this body (lines already indented by 4)."""
    return f"  a:\n{body}"


CASES: list[tuple[str, str, str, str]] = [
    # (case id, flow text, text the error points at (">x": just after x), message)
    ("not-a-mapping", "- just\n- a list\n", "- just", "the flow must be a mapping"),
    ("top-missing", "languages: [uk]\nstart: a\n", "languages", "the flow needs `nodes`"),
    ("top-unknown-key", HEAD + "colour: red\nnodes:\n  a: {type: hangup}\n", "colour", "unknown key `colour` in the flow"),
    ("languages-empty", "languages: []\nstart: a\nnodes:\n  a: {type: hangup}\n", "[]", "`languages` must list at least one language"),
    ("language-twice", "languages: [uk, uk]\nstart: a\nnodes:\n  a: {type: hangup}\n", "uk]", "language `uk` is listed twice"),
    ("language-unknown", "languages: [uk, de]\nstart: a\nnodes:\n  a: {type: hangup}\n", "de]", "unknown language `de` in `languages`"),
    ("default-not-offered", "languages: [uk]\ndefault_language: en\nstart: a\nnodes:\n  a: {type: hangup}\n", "en\n", "`default_language` en is not in `languages`"),
    ("max-steps", "languages: [uk]\nstart: a\nmax_steps: 3\nnodes:\n  a: {type: hangup}\n", "3\n", "`max_steps` must be at least 10 and at most 10000"),
    ("nodes-empty", "languages: [uk]\nstart: a\nnodes: {}\n", "{}", "`nodes` is empty"),
    ("start-unknown", flow("  a: {type: hangup}\n").replace("start: a", "start: b"), "b\n", "`start` names an unknown node `b`"),
    ("merge-key", flow(node("    <<: {type: hangup}\n    type: hangup\n")), "<<", "merge keys (<<) are not supported"),
    ("node-id", flow("  1a:\n    type: hangup\n").replace("start: a", "start: 1a"), "1a:", "node id `1a` must start with a letter"),
    ("node-no-type", flow(node("    next: z\n")), "next: z", "node `a` has no `type`"),
    ("prompt-lang-no-text", flow(node("    type: play\n    prompt: {language: uk}\n    next: z\n")), "{language: uk}", "has `language` but no `text`"),
    ("prompt-text-no-lang", flow(node("    type: play\n    prompt: {text: Hi}\n    next: z\n")), "text: Hi", "`text` in `prompt` of play node `a` needs `language`"),
    ("prompt-file-and-langs", flow(node("    type: play\n    prompt: {file: x, uk: y, en: z}\n    next: z\n")), "{file: x", "has both a `file` for every language and per-language versions"),
    ("prompt-empty", flow(node("    type: play\n    prompt: {}\n    next: z\n")), "{}", "has no text or file"),
    ("prompt-lang-map", flow(node("    type: play\n    prompt: {uk: {}, en: Hi}\n    next: z\n")), "{}", "`uk` of `prompt` of play node `a` needs `file` or `text`"),
    ("fixed-lang-not-offered", flow(node("    type: play\n    prompt: {language: ru, text: Привет}\n    next: z\n")), "{language: ru", "prompt is spoken in `ru`, which the flow does not offer"),
    ("not-a-list", flow(node("    type: queue\n    queue: general\n    skills: general\n    fallback: z\n")), "general\n    fallback", "`skills` of queue node `a` must be a list"),
    ("empty-text", flow(node("    type: goto\n    flow: ''\n")), "''", "`flow` of goto node `a` must not be empty"),
    ("null-text", flow(node("    type: goto\n    flow:\n")), ">flow:", "`flow` of goto node `a` must be text"),
    ("whole-number", flow(node("    type: queue\n    queue: general\n    priority: high\n    fallback: z\n")), "high", "`priority` of queue node `a` must be a whole number"),
    ("number-range", flow(node("    type: queue\n    queue: general\n    priority: 12\n    fallback: z\n")), "12", "`priority` of queue node `a` must be at least 0 and at most 9"),
    ("seconds-range", flow(node("    type: menu\n    prompt: hi\n    choices: {'1': z}\n    timeout: 0\n    fallback: z\n")), "0\n", "must be more than 0 and at most 3600 seconds"),
    ("menu-no-choices", flow(node("    type: menu\n    prompt: hi\n    choices: {}\n    fallback: z\n")), "{}", "`choices` of menu node `a` has no choices"),
    ("menu-gap", flow(node("    type: menu\n    prompt: hi\n    choices: {'2': z}\n    fallback: z\n")), "a:", "menu `a` skips digit 1 (has 2)"),
    ("input-variable", flow(node("    type: input\n    prompt: hi\n    variable: 9x\n    next: z\n    fallback: z\n")), "9x", "`variable` of input node `a` `9x` is not a variable name"),
    ("input-confirm", flow(node("    type: input\n    prompt: hi\n    variable: n\n    confirm: {prompt: hi}\n    next: z\n    fallback: z\n")), "{prompt: hi}", "`confirm` of input node `a` needs `question`"),
    ("say-kind", flow(node("    type: say\n    kind: time\n    value: '1'\n    next: z\n")), "time", "`kind` of say node `a` must be digits, number or date"),
    ("set-empty", flow(node("    type: set\n    next: z\n")), "a:", "set node `a` needs `variables` or `channel`"),
    ("set-var-name", flow(node("    type: set\n    variables: {my-var: '1'}\n    next: z\n")), "my-var", "`my-var` is not a variable name"),
    ("set-channel-name", flow(node("    type: set\n    channel: {'A B': '1'}\n    next: z\n")), "'A B'", "`A B` is not a channel variable name"),
    ("template-name", flow(node("    type: say\n    kind: digits\n    value: '${a b}'\n    next: z\n")), "'${a b}'", "`${a b}` in node `a` is not a variable name"),
    ("rule-parts", flow(node("    type: branch\n    rules:\n      - if: {language: uk}\n    else: z\n")), "if:", "a rule of branch node `a` needs `if` and `then`"),
    ("condition-two-tests", flow(node("    type: branch\n    rules:\n      - if: {language: uk, open: office}\n        then: z\n    else: z\n")), "{language: uk,", "a condition must have exactly one test"),
    ("condition-empty-all", flow(node("    type: branch\n    rules:\n      - if: {all: []}\n        then: z\n    else: z\n")), "[]", "`all` needs at least one condition"),
    ("condition-variable-tests", flow(node("    type: branch\n    rules:\n      - if: {variable: caller}\n        then: z\n    else: z\n")), "{variable: caller}", "a variable condition needs exactly one of equals, in, matches, set"),
    ("condition-date", flow(node("    type: branch\n    rules:\n      - if: {dates: {from: 24.11.2026, to: 2026-12-01}}\n        then: z\n    else: z\n")), "24.11.2026", "`dates.from` must be a date written YYYY-MM-DD"),
    ("condition-range-part", flow(node("    type: branch\n    rules:\n      - if: {dates: {from: 2026-11-24}}\n        then: z\n    else: z\n")), "{from: 2026", "`dates` needs `to`"),
    ("condition-time", flow(node("    type: branch\n    rules:\n      - if: {time: {from: '8:00', to: '17:00'}}\n        then: z\n    else: z\n")), "'8:00'", '`time.from` must be a time written "HH:MM"'),
    ("condition-weekday", flow(node("    type: branch\n    rules:\n      - if: {weekdays: [mon, friday]}\n        then: z\n    else: z\n")), "friday", "unknown weekday `friday`"),
    ("condition-prefix", flow(node("    type: branch\n    rules:\n      - if: {caller_prefix: '+380'}\n        then: z\n    else: z\n")), "'+380'", "caller prefix `+380` must be digits"),
    ("condition-language", flow(node("    type: branch\n    rules:\n      - if: {language: de}\n        then: z\n    else: z\n")), "de}", "unknown language `de` in condition"),
    ("condition-language-offered", flow(node("    type: branch\n    rules:\n      - if: {language: ru}\n        then: z\n    else: z\n")), "{language: ru}", "language `ru` is not offered by the flow"),
    ("language-both", flow(node("    type: language\n    set: uk\n    choices: {'1': uk}\n    prompt: hi\n    next: z\n")), "a:", "needs either `set` (a fixed language) or `choices`"),
    ("language-no-prompt", flow(node("    type: language\n    choices: {'1': uk}\n    next: z\n")), "a:", "language node `a` asks the caller, so it needs `prompt`"),
    ("language-default", flow(node("    type: language\n    set: uk\n    default: ru\n    next: z\n")), "a:", "language `ru` is not offered by the flow"),
    ("queue-result", flow(node("    type: queue\n    queue: general\n    on: {busy: z}\n    fallback: z\n")), "busy", "unknown queue result `busy`"),
    ("transfer-number", flow(node("    type: transfer\n    number: psy-line\n    failed: z\n")), "psy-line", "`number` of transfer node `a` must be a phone number"),
    ("goto-own-node", flow(node("    type: goto\n    flow: f\n    node: nowhere\n")), "a:", "goto names an unknown node `nowhere`"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "needle", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_is_reported_with_its_location(text: str, needle: str, message: str) -> None:
    """The mistake is reported once, at the place it is written, with a message that names it."""
    flow_obj, errors = check_flow(text, "f.yaml", CONTEXT)
    assert flow_obj is None
    matching = [e for e in errors if message in e.message]
    assert matching, [str(e) for e in errors]
    # A needle starting with ">" points just after the text (where a missing value would be).
    index = text.index(needle[1:]) + len(needle) - 1 if needle.startswith(">") else text.index(needle)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    assert (matching[0].line, matching[0].column) == (line, column), str(matching[0])
    assert str(matching[0]).startswith(f"f.yaml:{line}:{column}: ")
