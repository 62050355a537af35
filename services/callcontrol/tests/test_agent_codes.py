"""Agent feature codes without a call: the request parsing. On calls, with the real ACD,
directory and NATS (every refusal of the desk included): tests/test_agent_feature_codes.py
(a service's tests may not import another service)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hibiki.callcontrol.agent.request import ACTIONS, NEEDS_DIGITS, TAKES_DIGITS, Action, AgentRequest, parse


# ---- parsing ------------------------------------------------------------------------------
@given(st.text(max_size=30))
def test_parse_accepts_only_what_a_feature_code_makes(target: str) -> None:
    request = parse(target)
    if request is not None:
        assert target == f"{request.action.value}:{request.argument}"
        assert request.argument.isascii() and (request.argument.isdigit() or request.argument == "")
        assert bool(request.argument) == (request.action in NEEDS_DIGITS) or request.action is Action.BREAK


@given(st.sampled_from(sorted(ACTIONS)), st.text(alphabet="0123456789", max_size=16))
def test_parse_round_trips(name: str, digits: str) -> None:
    action = ACTIONS[name]
    wanted = (bool(digits) or action not in NEEDS_DIGITS) and (not digits or action in TAKES_DIGITS)
    assert parse(f"{name}:{digits}") == (AgentRequest(action, digits) if wanted else None)
