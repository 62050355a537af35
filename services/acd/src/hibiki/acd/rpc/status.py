"""Domain errors to gRPC status codes and back (forwarded calls keep their error).

    UnknownQueue, UnknownAgent, UnknownCall                       NOT_FOUND
    CallExists                                                    ALREADY_EXISTS
    InvalidArgument                                               INVALID_ARGUMENT
    InvalidState, AgentBusy, DeviceInUse, DispositionRequired,
    NoSuchOffer                                                   FAILED_PRECONDITION
    not the owner, no owner (NotOwner), lost the tenant           UNAVAILABLE

The details are the error's message; the trailing metadata ``acd-error-id`` carries its id.
"""

from __future__ import annotations

import grpc

from hibiki.acd.domain import errors as e

ERROR_ID_KEY = "acd-error-id"
CODES: dict[type[e.AcdError], grpc.StatusCode] = {
    e.UnknownQueue: grpc.StatusCode.NOT_FOUND, e.UnknownAgent: grpc.StatusCode.NOT_FOUND,
    e.UnknownCall: grpc.StatusCode.NOT_FOUND, e.CallExists: grpc.StatusCode.ALREADY_EXISTS,
    e.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT, e.InvalidState: grpc.StatusCode.FAILED_PRECONDITION,
}
BY_ID: dict[str, type[e.AcdError]] = {cls.error_id: cls for cls in (
    e.InvalidArgument, e.UnknownDevice, e.UnknownQueue, e.UnknownAgent, e.UnknownCall, e.CallExists, e.InvalidState, e.AgentBusy,
    e.DeviceInUse, e.DispositionRequired, e.NoSuchOffer)}


def code_for(error: e.AcdError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in CODES:
            return CODES[cls]
    return grpc.StatusCode.FAILED_PRECONDITION


async def abort_with(context: grpc.aio.ServicerContext, error: e.AcdError) -> None:
    context.set_trailing_metadata(((ERROR_ID_KEY, error.error_id),))
    await context.abort(code_for(error), error.message)


def error_from(exc: grpc.aio.AioRpcError) -> e.AcdError | None:
    """The domain error a peer answered with, None for any other failure."""
    for key, value in exc.trailing_metadata() or ():
        if key == ERROR_ID_KEY and value in BY_ID:
            return BY_ID[value](exc.details() or "")
    return None
