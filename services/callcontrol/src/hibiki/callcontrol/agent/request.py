"""The ``agent:`` application's argument: ``<action>:<digits>`` as the directory's dialplan sets it
in ``hibiki_app`` (``agent:login:1234``, ``agent:break:``). Only what a feature code can produce
is accepted; anything else is no request (the call goes back to its dialplan fallback)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hibiki.common import dialstring

_DIGITS = re.compile(r"^[0-9]{0,16}$")


class Action(StrEnum):
    LOGIN = "login"                  # *50<agent id>: log in on this phone, ready
    LOGOUT = "logout"                # *59
    READY = "ready"                  # *51
    NOT_READY = "not_ready"          # *52
    BREAK = "break"                  # *53[reason code]
    DISPOSITION = "disposition"      # *55<case type>: ends after-call work (CC-03)


ACTIONS = {action.value: action for action in Action}
NEEDS_DIGITS = frozenset({Action.LOGIN, Action.DISPOSITION})
TAKES_DIGITS = NEEDS_DIGITS | {Action.BREAK}


@dataclass(frozen=True)
class AgentRequest:
    action: Action
    argument: str = ""       # the agent id (login), the reason code (break), the case type (disposition)


def parse(target: str) -> AgentRequest | None:
    """``login:1234`` → ``AgentRequest(LOGIN, "1234")``; None unless well formed."""
    name, colon, argument = target.partition(":")
    action = ACTIONS.get(name)
    if action is None or not colon or not _DIGITS.match(argument):
        return None
    if (action in NEEDS_DIGITS and not argument) or (action not in TAKES_DIGITS and argument):
        return None
    return AgentRequest(action, argument)


def device_of(channel: Mapping[str, str]) -> str:
    """The phone the code was dialled from (``hibiki_agent_device``, set by the dialplan), or ``""``."""
    device = channel.get("variable_hibiki_agent_device", "")
    return device if dialstring.DEVICE.fullmatch(device) else ""   # the ACD resolves it through the directory
