"""What the IVR engine tells the adapter to do (instructions), and the caller's path.

A turn of the engine is a list of instructions, in order: ``Play``, ``StartRecording`` (after
the recording notice), ``Decision`` and ``Fault`` along the way, then one ``Collect`` (wait for the caller) or one terminal instruction
(``Transfer``, ``Enqueue``, ``Hangup``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

PromptSource = Literal["prompt_id", "text", "sound"]
TransferKind = Literal["extension", "ring_group", "voicemail", "external"]
TRANSFER_KINDS: tuple[TransferKind, ...] = ("extension", "ring_group", "voicemail", "external")


@dataclass(frozen=True)
class PromptRef:
    source: PromptSource
    value: str


@dataclass(frozen=True)
class Step:
    menu_id: str
    menu_name: str
    digits: str          # "" for a timeout
    branch: str          # e.g. "menu:sub", "queue:q1", "failure/default"


@dataclass(frozen=True)
class Play:
    prompt: PromptRef


@dataclass(frozen=True)
class Collect:
    """Play the greeting and wait for one key (``keys`` lead somewhere)."""

    menu_id: str
    greeting: PromptRef | None
    timeout_seconds: int
    keys: frozenset[str]
    attempt: int         # 1-based
    max_tries: int


@dataclass(frozen=True)
class Decision:
    step: Step
    path: tuple[Step, ...]


@dataclass(frozen=True)
class Fault:
    error_id: str        # missing-menu, unusable-branch, menu-visits-exceeded
    detail: str
    menu_id: str


@dataclass(frozen=True)
class Transfer:
    kind: TransferKind
    target: str


@dataclass(frozen=True)
class Enqueue:
    queue_id: str
    priority: int
    skills: tuple[str, ...]


@dataclass(frozen=True)
class Hangup:
    cause: str


@dataclass(frozen=True)
class StartRecording:
    """Record the call from here on: the caller has heard the recording notice (REC-02)."""


Terminal = Transfer | Enqueue | Hangup
Instruction = Play | StartRecording | Collect | Decision | Fault | Terminal


def sound(path: str) -> PromptRef:
    return PromptRef("sound", path)


def format_path(path: Sequence[Step]) -> str:
    """The compact path a channel variable carries: ``main:1>sub:3`` (``-``: no key)."""
    return ">".join(f"{step.menu_id}:{step.digits or '-'}" for step in path)
