"""IVRs as data (PBX-18): checking a definition, deciding its schedule switches, and the test mode.

The definition is the ``hibiki.directory.v1.Ivr`` message (proto/hibiki/directory/v1/ivr.proto);
the admin API takes and returns its proto3 JSON mapping. Callcontrol runs it; the directory
stores it, decides every schedule switch for the moment a call enters (``resolve``), and lists
every branch a caller can reach with the keys and a moment that lead there (``paths``: the
test mode Zama asked for before go-live). Pure domain code, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import json_format

from hibiki.directory.errors import Invalid
from hibiki.directory.schedules import Schedule
from hibiki.directory.v1 import ivr_pb2

ID = re.compile(r"[a-z0-9_-]{1,64}")
KEYS = frozenset("0123456789*#")
MAX_MENUS = 200
MAX_PROMPT_TEXT = 1000
SOUND = re.compile(r"[A-Za-z0-9_./-]{1,200}")   # a FreeSWITCH sound path, nothing a shell or XML could abuse
EXTERNAL = re.compile(r"\+?[0-9]{3,20}")
TERMINAL = ("extension", "ring_group", "queue", "voicemail", "external", "message")
ScheduleLookup = Callable[[str], Schedule | None]


def _invalid(path: str, message: str) -> Invalid:
    return Invalid("invalid-ivr", f"{path}: {message}", path)


def parse(data: Any) -> ivr_pb2.Ivr:
    """The message from its JSON (camelCase or proto field names); tenant and version are ours."""
    if not isinstance(data, dict):
        raise _invalid("body", "an IVR is a JSON object")
    message = ivr_pb2.Ivr()
    try:
        json_format.ParseDict(data, message)
    except json_format.ParseError as exc:
        raise _invalid("body", str(exc)) from None
    message.tenant, message.version = "", 0
    return message


def to_json(ivr: ivr_pb2.Ivr) -> dict[str, Any]:
    return json_format.MessageToDict(ivr, preserving_proto_field_name=True)


DEFINITION_KEYS = ("root_menu", "menus", "recording_notice")


def definition(ivr: ivr_pb2.Ivr) -> dict[str, Any]:
    """What the store keeps besides id and name (in proto field names)."""
    data = to_json(ivr)
    return {key: data[key] for key in DEFINITION_KEYS if key in data}


def from_row(row: Mapping[str, Any]) -> ivr_pb2.Ivr:
    """The message of a stored IVR (checked when it was stored)."""
    return parse({**row["definition"], "id": row["id"], "name": row["name"]})


def _check_prompt(prompt: ivr_pb2.Prompt, path: str, required: bool = False) -> None:
    kind = prompt.WhichOneof("source")
    if kind is None:
        if required:
            raise _invalid(path, "a prompt needs prompt_id, text or sound")
        return
    value = getattr(prompt, kind)
    if kind == "text":
        if not value.strip() or len(value) > MAX_PROMPT_TEXT or any(ord(c) < 32 for c in value):
            raise _invalid(f"{path}.text", f"1-{MAX_PROMPT_TEXT} characters of one line")
    elif kind == "sound":
        if not SOUND.fullmatch(value) or ".." in value:
            raise _invalid(f"{path}.sound", "a sound path of letters, digits, _ . / - (no ..)")
    elif not ID.fullmatch(value) and not re.fullmatch(r"[a-z0-9]{1,80}", value):
        raise _invalid(f"{path}.prompt_id", "not a prompt id")


def validate(ivr: ivr_pb2.Ivr, schedule_exists: Callable[[str], bool] = lambda _: True) -> None:
    """Raise :class:`Invalid` (with the path of the field at fault) unless ``ivr`` can run."""
    if not ID.fullmatch(ivr.id):
        raise _invalid("id", "1-64 characters a-z 0-9 _ -")
    if not 1 <= len(ivr.menus) <= MAX_MENUS:
        raise _invalid("menus", f"an IVR has 1-{MAX_MENUS} menus")
    ids: set[str] = set()
    for i, menu in enumerate(ivr.menus):
        if not ID.fullmatch(menu.id):
            raise _invalid(f"menus[{i}].id", "1-64 characters a-z 0-9 _ -")
        if menu.id in ids:
            raise _invalid(f"menus[{i}].id", f"menu {menu.id!r} appears twice")
        ids.add(menu.id)
    if ivr.root_menu not in ids:
        raise _invalid("root_menu", f"{ivr.root_menu!r} is not one of the menus")
    _check_prompt(ivr.recording_notice, "recording_notice")
    for i, menu in enumerate(ivr.menus):
        path = f"menus[{i}]"
        _check_prompt(menu.greeting, f"{path}.greeting", required=True)
        _check_prompt(menu.invalid_prompt, f"{path}.invalid_prompt")
        _check_prompt(menu.timeout_prompt, f"{path}.timeout_prompt")
        if menu.timeout_seconds > 60:
            raise _invalid(f"{path}.timeout_seconds", "at most 60 seconds")
        if menu.max_tries > 10:
            raise _invalid(f"{path}.max_tries", "at most 10 tries")
        for key, branch in menu.choices.items():
            if key not in KEYS:
                raise _invalid(f"{path}.choices", f"{key!r} is not one DTMF key (0-9, *, #)")
            _check_branch(branch, f"{path}.choices[{key}]", ids, schedule_exists, required=True)
        _check_branch(menu.on_failure, f"{path}.on_failure", ids, schedule_exists, required=False)
        if menu.on_failure.WhichOneof("target") == "repeat":
            raise _invalid(f"{path}.on_failure", "repeating the menu after its last try would never end")


def _check_branch(branch: ivr_pb2.Branch, path: str, menus: set[str], schedule_exists: Callable[[str], bool],
                  required: bool, depth: int = 0) -> None:
    kind = branch.WhichOneof("target")
    if kind is None:
        if required:
            raise _invalid(path, "a branch needs a target (menu, extension, ring_group, queue, ...)")
        return
    if depth > 8:
        raise _invalid(path, "schedule switches nest too deep (at most 8)")
    if kind == "menu" and branch.menu not in menus:
        raise _invalid(f"{path}.menu", f"{branch.menu!r} is not one of the menus")
    elif kind in ("extension", "voicemail") and not re.fullmatch(r"[0-9]{2,8}", getattr(branch, kind)):
        raise _invalid(f"{path}.{kind}", "an extension of 2-8 digits")
    elif kind == "ring_group" and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", branch.ring_group):
        raise _invalid(f"{path}.ring_group", "not a ring group id")
    elif kind == "queue" and not ID.fullmatch(branch.queue.queue_id):
        raise _invalid(f"{path}.queue.queue_id", "1-64 characters a-z 0-9 _ -")
    elif kind == "external" and not EXTERNAL.fullmatch(branch.external):
        raise _invalid(f"{path}.external", "a telephone number of 3-20 digits")
    elif kind == "message":
        _check_prompt(branch.message.prompt, f"{path}.message.prompt", required=True)
    elif kind in ("back", "repeat") and not getattr(branch, kind):
        raise _invalid(f"{path}.{kind}", "must be true")
    elif kind == "schedule":
        switch = branch.schedule
        if not schedule_exists(switch.schedule_id):
            raise _invalid(f"{path}.schedule.schedule_id", f"no schedule {switch.schedule_id!r} in this tenant")
        if switch.otherwise.WhichOneof("target") is None:
            raise _invalid(f"{path}.schedule.otherwise", "a schedule switch needs an otherwise branch")
        for name, sub in switch.branches.items():
            _check_branch(sub, f"{path}.schedule.branches[{name}]", menus, schedule_exists, True, depth + 1)
        _check_branch(switch.otherwise, f"{path}.schedule.otherwise", menus, schedule_exists, True, depth + 1)


def _switches(ivr: ivr_pb2.Ivr) -> Iterator[ivr_pb2.ScheduleSwitch]:
    def walk(branch: ivr_pb2.Branch) -> Iterator[ivr_pb2.ScheduleSwitch]:
        if branch.WhichOneof("target") == "schedule":
            yield branch.schedule
            for sub in branch.schedule.branches.values():
                yield from walk(sub)
            yield from walk(branch.schedule.otherwise)

    for menu in ivr.menus:
        for branch in menu.choices.values():
            yield from walk(branch)
        yield from walk(menu.on_failure)


def schedules_used(ivr: ivr_pb2.Ivr) -> set[str]:
    return {switch.schedule_id for switch in _switches(ivr)}


def resolve(ivr: ivr_pb2.Ivr, schedules: ScheduleLookup, at: datetime) -> ivr_pb2.Ivr:
    """A copy with every schedule switch's ``active_branch`` decided at ``at`` ("" when the
    schedule is gone: callcontrol then takes ``otherwise``)."""
    out = ivr_pb2.Ivr()
    out.CopyFrom(ivr)
    for switch in _switches(out):
        schedule = schedules(switch.schedule_id)
        switch.active_branch = schedule.state(at).branch if schedule is not None else ""
    return out


def follow(switch: ivr_pb2.ScheduleSwitch, branch: str) -> ivr_pb2.Branch:
    return switch.branches[branch] if branch in switch.branches else switch.otherwise


# ---- test mode -------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """One way through the IVR: the keys pressed ("" = no key until the timeout), the moment
    that leads there, the menus visited, and where the call ends."""

    keys: tuple[str, ...]
    at: datetime
    menus: tuple[str, ...]
    end: str                      # "extension:1001", "queue:water", "message", "hangup", ...
    schedule_branches: dict[str, str] = field(default_factory=dict)   # schedule id -> branch taken

    def to_json(self) -> dict[str, Any]:
        return {"keys": list(self.keys), "at": self.at.isoformat(), "menus": list(self.menus), "end": self.end,
                "schedule_branches": dict(self.schedule_branches)}


def _end(branch: ivr_pb2.Branch) -> str:
    kind = branch.WhichOneof("target")
    if kind == "queue":
        return f"queue:{branch.queue.queue_id}"
    if kind == "message" or kind is None:
        return "message"
    return f"{kind}:{getattr(branch, kind)}"


def moments(schedule: Schedule, start: datetime, days: int = 400) -> dict[str, datetime]:
    """The first moment from ``start`` at which each branch the schedule can give applies."""
    found = {schedule.state(start).branch: start}
    at: datetime | None = start
    limit = start + timedelta(days=days)
    while at is not None and at < limit:
        at = schedule.next_change(at)
        if at is not None and at < limit:
            found.setdefault(schedule.state(at).branch, at)
    return found


def paths(ivr: ivr_pb2.Ivr, schedules: Mapping[str, Schedule], start: datetime, limit: int = 2000) -> list[Path]:
    """Every reachable end of ``ivr``, each with the keys and a moment (from ``start`` on) that
    lead there. Menus are entered once per path (a loop back is not followed again); every
    key of every menu, the timeout (on_failure after the tries), and every schedule branch
    that can occur within 400 days (the otherwise branch for the others)."""
    menus = {m.id: m for m in ivr.menus}
    used = schedules_used(ivr)    # scanning a schedule's year of changes only for those the IVR branches on
    when = {sid: moments(s, start) for sid, s in schedules.items() if sid in used}
    out: list[Path] = []

    def branch_paths(branch: ivr_pb2.Branch, keys: tuple[str, ...], visited: tuple[str, ...],
                     fixed: dict[str, str]) -> None:
        if len(out) >= limit:
            return
        kind = branch.WhichOneof("target")
        if kind == "menu":
            menu_paths(branch.menu, keys, visited, fixed)
        elif kind == "back":
            if len(visited) >= 2:
                menu_paths(visited[-2], keys, visited, fixed)
        elif kind == "repeat":
            return  # the same menu again: nothing new is reachable
        elif kind == "schedule":
            switch = branch.schedule
            options = when.get(switch.schedule_id, {})
            if switch.schedule_id in fixed:   # the call's moment is already fixed by an earlier switch
                taken = fixed[switch.schedule_id]
                branch_paths(follow(switch, taken), keys, visited, fixed)
                return
            for name in sorted(options):
                branch_paths(follow(switch, name), keys, visited, {**fixed, switch.schedule_id: name})
            if not options:
                branch_paths(switch.otherwise, keys, visited, {**fixed, switch.schedule_id: ""})
        elif kind is not None:
            out.append(Path(keys, _moment(fixed), visited, _end(branch), dict(fixed)))
        else:
            out.append(Path(keys, _moment(fixed), visited, "hangup", dict(fixed)))

    def _moment(fixed: dict[str, str]) -> datetime:
        # the latest of the moments the chosen branches need (several schedules: best effort)
        chosen = [when[sid][name] for sid, name in fixed.items() if name and name in when.get(sid, {})]
        return max(chosen, default=start)

    def menu_paths(menu_id: str, keys: tuple[str, ...], visited: tuple[str, ...], fixed: dict[str, str]) -> None:
        menu = menus.get(menu_id)
        if menu is None or menu_id in visited:
            return
        here = (*visited, menu_id)
        for key in sorted(menu.choices):
            branch_paths(menu.choices[key], (*keys, key), here, fixed)
        failure = menu.on_failure if menu.on_failure.WhichOneof("target") else None
        if failure is not None:
            branch_paths(failure, (*keys, ""), here, fixed)
        else:
            out.append(Path((*keys, ""), _moment(fixed), here, "message", dict(fixed)))

    menu_paths(ivr.root_menu, (), (), {})
    return out
