"""Feature codes that change the caller's own settings from the phone (PBX-09), and the agent
codes' syntax (CC-02: ``*50<agent id>``, ``*59``, ``*51``, ``*52``, ``*53<reason>``,
``*55<case type>``; the dialplan sends them to callcontrol).

``*72<number>`` forwards all the caller's calls to an extension or an outside number,
``*73`` turns that off. FreeSWITCH's dialplan fetch for the code carries the caller's
identity (``hibiki_user``, put on the channel by the directory at authentication), so the
directory applies the change while answering it, then plays a confirmation tone.
"""

from __future__ import annotations

from dataclasses import dataclass

from hibiki.directory.numbers import InvalidNumber, NumberKind, classify
from hibiki.directory.view import TenantView
from hibiki.common.digits import ascii_digits

CONFIRM_TONE = "tone_stream://%(150,100,880);%(150,0,1320)"
REFUSE_TONE = "tone_stream://%(500,100,480,620);loops=2"


@dataclass(frozen=True)
class SettingChange:
    user_id: str
    field: str
    value: str


def setting_change(destination: str, tenant: TenantView, user_id: str) -> SettingChange | None | bool:
    """The change a feature code asks for; False for a code we know with a target we refuse;
    None when the destination is no such code."""
    if user_id not in tenant.users:
        return None
    if destination == "*73":
        return SettingChange(user_id, "forward_always", "")
    if destination.startswith("*72") and len(destination) > 3:
        target = destination[3:]
        if target in tenant.extensions or target in tenant.group_extensions:
            return SettingChange(user_id, "forward_always", target)
        try:
            info = classify(target)
        except InvalidNumber:
            return False
        if info.kind in (NumberKind.INVALID, NumberKind.UNKNOWN, NumberKind.EXTENSION, NumberKind.FEATURE_CODE,
                         NumberKind.EMERGENCY):
            return False
        return SettingChange(user_id, "forward_always", info.destination)
    return None


# Agent codes (CC-02): *5X<digits> -> (action, whether digits are required, allowed, at most how many).
AGENT_CODES: dict[str, tuple[str, bool, bool, int]] = {
    "*50": ("login", True, True, 16), "*59": ("logout", False, False, 0),
    "*51": ("ready", False, False, 0), "*52": ("not_ready", False, False, 0),
    "*53": ("break", False, True, 8), "*55": ("disposition", True, True, 8),
}


def agent_code(destination: str) -> tuple[str, str] | None:
    """``(action, digits)`` of an agent code (``*50<agent id>``, ``*53<reason>``, ...), None for
    anything else: an unknown code, a missing or unwanted argument, anything but ASCII digits."""
    spec = AGENT_CODES.get(destination[:3])
    if spec is None:
        return None
    action, required, allowed, longest = spec
    argument = destination[3:]
    if not argument:
        return None if required else (action, "")
    if not allowed or len(argument) > longest or not (ascii_digits(argument)):
        return None
    return action, argument
