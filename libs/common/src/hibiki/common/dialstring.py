"""Building FreeSWITCH dial strings and application arguments from checked values only.

FreeSWITCH gives meaning to many characters inside a dial string: ``,`` and ``|`` separate
legs (at once, in turn), ``:_:`` enterprise groups, ``[...]``/``{...}``/``<...>`` carry channel
variables (``,`` between them, ``^^<c>`` changes that separator), ``${...}`` expands a
variable and a space ends an application's argument. Anything that came from a phone, a
browser or an API client goes into one only through the checks here, at the point the string
is built (in addition to the checks on input): a value that does not match its syntax raises
``UnsafeValue`` and nothing is built.

    UnsafeValue(ValueError)     a value that is not what its place in a dial string allows
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# What a SIP username, an extension or a user's username can be (the directory's schemas).
DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
GATEWAY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NUMBER = re.compile(r"\+?[0-9*#]{1,32}")              # digits a phone dials
CALLER_ID = re.compile(r"\+?[0-9][0-9-]{0,31}")         # a number as presented (hyphens as typed)
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")   # ids and plain values (no separators)
VARIABLE = re.compile(r"[a-z][a-z0-9_]{0,63}")          # a channel variable's name
TARGET = re.compile(r"[A-Za-z0-9_*#+.-]{1,96}")          # a dialplan extension to transfer to
CONTEXT = re.compile(r"[A-Za-z0-9_.-]{1,64}")            # a dialplan context
SOUND = re.compile(r"(?!.*\.\.)[\w./-]{1,200}")           # a sound file to play (letters of any script; no ..)


class UnsafeValue(ValueError):
    """A value that does not match the syntax of its place in a dial string."""

    def __init__(self, kind: str, value: object) -> None:
        super().__init__(f"not a valid {kind} for a dial string: {str(value)[:80]!r}")
        self.kind = kind


def _checked(kind: str, pattern: re.Pattern[str], value: object) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise UnsafeValue(kind, value)
    return value


def device(value: object) -> str:
    return _checked("device", DEVICE, value)


def domain(value: object) -> str:
    return _checked("domain", DOMAIN, value)


def gateway(value: object) -> str:
    return _checked("gateway", GATEWAY, value)


def number(value: object) -> str:
    return _checked("number", NUMBER, value)


def token(value: object) -> str:
    return _checked("value", TOKEN, value)


def variables(values: Mapping[str, object], open_: str = "[", close: str = "]") -> str:
    """``[name=value,...]`` (or ``{...}``) with every name and value checked; values are tokens
    or numbers (nothing that could close the block, split it or expand a variable)."""
    if not values:
        return ""
    parts = [f"{_checked('variable name', VARIABLE, k)}={token(str(v)) if not isinstance(v, int) else v}"
             for k, v in values.items()]
    return open_ + ",".join(parts) + close


def user_leg(dev: object, dom: object, leg_variables: Mapping[str, object] | None = None) -> str:
    """One leg ringing ``user/<device>@<domain>`` with its own channel variables."""
    return f"{variables(leg_variables or {})}user/{device(dev)}@{domain(dom)}"


def contact_leg(dev: object, dom: object) -> str:
    """One registered device's contact, for a bridge of several legs."""
    return f"${{sofia_contact(*/{device(dev)}@{domain(dom)})}}"


def gateway_leg(gw: object, num: object) -> str:
    return f"sofia/gateway/{gateway(gw)}/{number(num)}"


def transfer(target: object, context: object) -> str:
    """``transfer``'s argument: ``<extension> XML <context>`` (a space would start another argument)."""
    return f"{_checked('transfer target', TARGET, target)} XML {_checked('context', CONTEXT, context)}"


def at_once(legs: Iterable[str]) -> str:
    """Legs rung at once (``,``); each already built by the functions above."""
    return ",".join(legs)


def in_turn(legs: Iterable[str]) -> str:
    """Legs rung one after the other (``|``)."""
    return "|".join(legs)
