"""Errors of the ACD domain. Each carries a stable ``error_id`` the adapters map to a status.

A command that raises leaves the machine exactly as it was (commands validate first).

    AcdError
    ├── InvalidArgument      invalid-argument       a definition or a value that cannot work
    │   └── UnknownDevice    unknown-device         not a device the tenant's directory has
    ├── UnknownQueue         unknown-queue
    ├── UnknownAgent         unknown-agent          not configured
    ├── UnknownCall          unknown-call           not (or no longer) in the ACD
    ├── CallExists           call-exists            enqueue of a call the ACD already holds
    ├── InvalidState         invalid-state          the command does not apply in this state
    ├── AgentBusy            agent-busy             the agent is on a call
    ├── DeviceInUse          device-in-use          another agent, on a call, holds the seat
    ├── DispositionRequired  disposition-required   wrap-up: save the case type first (CC-03)
    └── NoSuchOffer          no-such-offer          answer/reject/ringing of an offer not (or no longer) made

Suggested mapping: InvalidArgument -> INVALID_ARGUMENT / 400; Unknown* -> NOT_FOUND / 404;
CallExists -> ALREADY_EXISTS / 409; the others -> FAILED_PRECONDITION / 409.
"""

from __future__ import annotations


class AcdError(Exception):
    error_id = "acd-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(AcdError, ValueError):
    error_id = "invalid-argument"


class UnknownDevice(InvalidArgument):
    error_id = "unknown-device"


class UnknownQueue(AcdError, LookupError):
    error_id = "unknown-queue"


class UnknownAgent(AcdError, LookupError):
    error_id = "unknown-agent"


class UnknownCall(AcdError, LookupError):
    error_id = "unknown-call"


class CallExists(AcdError):
    error_id = "call-exists"


class InvalidState(AcdError):
    error_id = "invalid-state"


class AgentBusy(InvalidState):
    error_id = "agent-busy"


class DeviceInUse(InvalidState):
    error_id = "device-in-use"


class DispositionRequired(InvalidState):
    error_id = "disposition-required"


class NoSuchOffer(InvalidState):
    error_id = "no-such-offer"
