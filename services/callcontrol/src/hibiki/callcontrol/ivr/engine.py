"""The IVR state machine: an ``Ivr`` message and the caller's keys in, instructions out.

Pure: no I/O, no clock. ``IvrRun.start()``, then ``key(digits)`` or ``timeout()`` after each
``Collect``, return the instructions of one turn in order (``instructions``): ``Play``,
``Decision`` and ``Fault`` along the way, then either one ``Collect`` (the run waits for the
caller) or one terminal instruction (``Transfer``, ``Enqueue``, ``Hangup``: the run is over).

The rules (``proto/hibiki/directory/v1/ivr.proto``):

* the recording notice, if set, before the root menu (REC-02);
* a menu plays its greeting and waits ``timeout_seconds`` (0: 5) for one key, ``max_tries``
  (0: 3) times at most: a key that leads nowhere plays ``invalid_prompt`` (default: a stock
  prompt), no key plays ``timeout_prompt`` if set; after the last try ``on_failure`` (default:
  a stock message, then hang up);
* branches: another menu (any depth), back (the previous menu; the root stays the root),
  repeat (this menu again; no try counted), a schedule switch (the directory's
  ``active_branch``, else ``otherwise``), a message then hang up, and the branches that leave
  the IVR: extension, ring group, voicemail, external number, queue;
* a configuration error (a missing menu, a branch with nothing usable) never leaves the caller
  in silence: a ``Fault``, the stock fallback prompt, then the menu's ``on_failure`` (or, when
  that is what failed, a polite hang-up);
* at most ``MAX_MENU_VISITS`` menu visits per call, then the failure message and hang up.

Every caller decision (a key with a branch, or the last failed try that leads to
``on_failure``) is one ``Step`` of ``path``, reported by a ``Decision``.
"""

from __future__ import annotations

import re

from hibiki.callcontrol.ivr.instructions import (
    TRANSFER_KINDS,
    Collect,
    Decision,
    Enqueue,
    Fault,
    Hangup,
    Instruction,
    Play,
    PromptRef,
    StartRecording,
    Step,
    Terminal,
    Transfer,
    TransferKind,
    sound,
)
from hibiki.directory.v1 import ivr_pb2

DEFAULT_TIMEOUT_SECONDS = 5
DEFAULT_MAX_TRIES = 3
MAX_TIMEOUT_SECONDS = 60
MAX_TRIES = 10
MAX_MENU_VISITS = 50
MAX_SCHEDULE_DEPTH = 8
KEYS = frozenset("0123456789*#")
# What a branch leaving the IVR may name: it becomes a dialplan destination
# (``hibiki_route_<kind>_<target>``), so nothing FreeSWITCH would split or expand.
TARGET = re.compile(r"^[A-Za-z0-9_+*#-]{1,64}$")
# Stock prompts, relative to the channel's sound_prefix: Hibiki's sound directory in the tenant's
# language (freeswitch/sounds/<language>/system/, set by the directory's dialplan).
INVALID_SOUND = "system/invalid_entry.wav"
FAILURE_SOUND = "system/failed.wav"
FALLBACK_SOUND = FAILURE_SOUND          # what a caller hears where the configuration is broken
NORMAL_CLEARING = "NORMAL_CLEARING"
TEMPORARY_FAILURE = "NORMAL_TEMPORARY_FAILURE"
_TRANSFERS: dict[str, TransferKind] = {kind: kind for kind in TRANSFER_KINDS}


class IvrStateError(Exception):
    """An input the run does not expect (before ``start``, after the end, twice ``start``)."""


def prompt_of(prompt: ivr_pb2.Prompt) -> PromptRef | None:
    source = prompt.WhichOneof("source")
    if source is None:
        return None
    value: str = getattr(prompt, source)
    return PromptRef(source, value) if value.strip() else None


def valid_keys(menu: ivr_pb2.Menu) -> frozenset[str]:
    return frozenset(key for key in menu.choices if key in KEYS)


def timeout_seconds(menu: ivr_pb2.Menu) -> int:
    return min(menu.timeout_seconds or DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS)


def max_tries(menu: ivr_pb2.Menu) -> int:
    return min(menu.max_tries or DEFAULT_MAX_TRIES, MAX_TRIES)


def chosen(switch: ivr_pb2.ScheduleSwitch) -> tuple[str, ivr_pb2.Branch | None]:
    """The schedule branch the directory decided (its label and where it leads)."""
    if switch.active_branch and switch.active_branch in switch.branches:
        return switch.active_branch, switch.branches[switch.active_branch]
    return "otherwise", switch.otherwise if switch.HasField("otherwise") else None


def describe(branch: ivr_pb2.Branch, depth: int = 0) -> str:
    kind = branch.WhichOneof("target")
    if kind is None or depth > MAX_SCHEDULE_DEPTH:
        return "none"
    if kind in ("back", "repeat", "message"):
        return kind
    if kind == "queue":
        return f"queue:{branch.queue.queue_id}"
    if kind == "schedule":
        label, inner = chosen(branch.schedule)
        return f"schedule:{branch.schedule.schedule_id}={label}/{describe(inner, depth + 1) if inner else 'none'}"
    return f"{kind}:{getattr(branch, kind)}"


class IvrRun:
    """One caller's way through one IVR."""

    def __init__(self, ivr: ivr_pb2.Ivr) -> None:
        self.ivr = ivr
        self._menus: dict[str, ivr_pb2.Menu] = {}
        for menu in ivr.menus:
            self._menus.setdefault(menu.id, menu)
        self._started = False
        self._current: ivr_pb2.Menu | None = None
        self._behind: list[str] = []        # the menus "back" returns to
        self._failures = 0
        self._out: list[Instruction] = []
        self.visits = 0
        self.path: list[Step] = []
        self.faults: list[Fault] = []
        self.outcome: Terminal | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    def start(self) -> list[Instruction]:
        if self._started:
            raise IvrStateError("the IVR has started already")
        self._started = True
        notice = prompt_of(self.ivr.recording_notice)
        if notice is not None:   # the caller hears that the call is recorded, then it is
            self._out.extend((Play(notice), StartRecording()))
        root = self._menus.get(self.ivr.root_menu)
        if root is None:
            self._fault("missing-menu", f"the root menu {self.ivr.root_menu!r} does not exist", "")
            self._end(Hangup(TEMPORARY_FAILURE))
        else:
            self._enter(root)
        return self._flush()

    def key(self, digits: str) -> list[Instruction]:
        """The caller pressed ``digits`` (one key) at the menu of the last ``Collect``."""
        menu = self._waiting()
        if not digits:
            return self.timeout()
        if digits not in valid_keys(menu):
            self._out.append(Play(prompt_of(menu.invalid_prompt) or sound(INVALID_SOUND)))
            self._failed(menu, digits)
        else:
            branch = menu.choices[digits]
            self._decide(menu, digits, describe(branch))
            self._follow(branch, menu, failing=False)
        return self._flush()

    def timeout(self) -> list[Instruction]:
        """No key came within the menu's timeout."""
        menu = self._waiting()
        prompt = prompt_of(menu.timeout_prompt)
        if prompt is not None:
            self._out.append(Play(prompt))
        self._failed(menu, "")
        return self._flush()

    # ---- steps ------------------------------------------------------------------------------
    def _waiting(self) -> ivr_pb2.Menu:
        if not self._started or self.outcome is not None or self._current is None:
            raise IvrStateError("the IVR is not waiting for a key")
        return self._current

    def _enter(self, menu: ivr_pb2.Menu, keep_failures: bool = False) -> None:
        self.visits += 1
        if self.visits > MAX_MENU_VISITS:
            self._fault("menu-visits-exceeded", f"more than {MAX_MENU_VISITS} menu visits in one call", menu.id)
            self._end(Hangup(NORMAL_CLEARING))
            return
        self._current = menu
        if not keep_failures:
            self._failures = 0
        self._out.append(Collect(menu.id, prompt_of(menu.greeting), timeout_seconds(menu), valid_keys(menu),
                                 self._failures + 1, max_tries(menu)))

    def _failed(self, menu: ivr_pb2.Menu, digits: str) -> None:
        self._failures += 1
        if self._failures < max_tries(menu):
            self._enter(menu, keep_failures=True)
            return
        self._decide(menu, digits, "failure/" + (describe(menu.on_failure)
                                                 if menu.on_failure.WhichOneof("target") else "default"))
        self._follow(menu.on_failure, menu, failing=True)

    def _decide(self, menu: ivr_pb2.Menu, digits: str, branch: str) -> None:
        self.path.append(Step(menu.id, menu.name, digits, branch))
        self._out.append(Decision(self.path[-1], tuple(self.path)))

    def _follow(self, branch: ivr_pb2.Branch, menu: ivr_pb2.Menu, *, failing: bool, announced: bool = False,
                depth: int = 0) -> None:
        """Go where ``branch`` leads from ``menu``; ``failing``: it is the menu's on_failure."""
        kind = branch.WhichOneof("target")
        if kind is None:
            if not failing:
                self._broken(menu, "unusable-branch", f"a choice of menu {menu.id!r} leads nowhere")
                return
            if not announced:
                self._out.append(Play(sound(FAILURE_SOUND)))
            self._end(Hangup(NORMAL_CLEARING))
        elif kind == "menu":
            submenu = self._menus.get(branch.menu)
            if submenu is None:
                self._broken(menu, "missing-menu", f"menu {menu.id!r} leads to a menu {branch.menu!r} that does not exist",
                             failing)
                return
            self._behind.append(menu.id)
            self._enter(submenu)
        elif kind in ("back", "repeat") and not getattr(branch, kind):
            self._broken(menu, "unusable-branch", f"menu {menu.id!r} has a {kind} branch set to false", failing)
        elif kind == "back":
            self._enter(self._menus[self._behind.pop()] if self._behind else menu)
        elif kind == "repeat":
            self._enter(menu, keep_failures=not failing)
        elif kind == "schedule":
            label, inner = chosen(branch.schedule)
            if inner is None or inner.WhichOneof("target") is None or depth >= MAX_SCHEDULE_DEPTH:
                self._broken(menu, "unusable-branch", f"schedule switch {branch.schedule.schedule_id!r} of menu "
                                                      f"{menu.id!r} has nothing for {label!r}", failing)
                return
            self._follow(inner, menu, failing=failing, announced=announced, depth=depth + 1)
        elif kind == "message":
            prompt = prompt_of(branch.message.prompt)
            if prompt is None:
                self._broken(menu, "unusable-branch", f"a message of menu {menu.id!r} has no prompt", failing)
                return
            self._out.append(Play(prompt))
            self._end(Hangup(NORMAL_CLEARING))
        elif kind == "queue":
            queue = branch.queue
            if not TARGET.match(queue.queue_id.strip()):
                self._broken(menu, "unusable-branch", f"a queue branch of menu {menu.id!r} names no usable queue "
                                                      f"({queue.queue_id!r})", failing)
                return
            self._end(Enqueue(queue.queue_id.strip(), queue.priority, tuple(queue.skills)))
        elif (transfer := _TRANSFERS.get(kind)) is not None:
            target = str(getattr(branch, transfer)).strip()
            if not TARGET.match(target):
                self._broken(menu, "unusable-branch", f"a {kind} branch of menu {menu.id!r} has no usable target "
                                                      f"({target!r})", failing)
                return
            self._end(Transfer(transfer, target))
        else:
            self._broken(menu, "unusable-branch", f"menu {menu.id!r} has a branch of unknown kind {kind!r}", failing)

    def _broken(self, menu: ivr_pb2.Menu, error_id: str, detail: str, failing: bool = False) -> None:
        """A configuration error: say so, then the menu's on_failure (unless that is what broke)."""
        self._fault(error_id, detail, menu.id)
        if failing:
            self._end(Hangup(TEMPORARY_FAILURE))
        else:
            self._follow(menu.on_failure, menu, failing=True, announced=True)

    def _fault(self, error_id: str, detail: str, menu_id: str) -> None:
        fault = Fault(error_id, detail, menu_id)
        self.faults.append(fault)
        self._out.extend([fault, Play(sound(FALLBACK_SOUND))])

    def _end(self, terminal: Terminal) -> None:
        self.outcome = terminal
        self._current = None
        self._out.append(terminal)

    def _flush(self) -> list[Instruction]:
        out, self._out = self._out, []
        return out
