"""What an inbound event-socket command can fail with.

    NodeError
     ├── NodeUnavailable   the node is unknown, not connected (yet, or any more), or stopped:
     │                     the command was never sent, so trying another node is safe
     ├── CommandTimeout    sent, but no reply within the timeout (the node may still run it)
     ├── ConnectionLost    sent, but the connection dropped before the reply came
     ├── CommandRefused    the node answered ``-ERR ...`` to the command itself (bgapi)
     └── CallNotFound      no connected node has the call (``NodePool.api_for_call``)

``AuthFailed`` (``auth`` answered ``-ERR invalid``) and ``HandshakeFailed`` never reach a
caller: they end one connection attempt and show as the node's ``last_error``.
"""

from __future__ import annotations


class NodeError(Exception):
    """Base of the errors of the inbound event socket; ``node`` names the FreeSWITCH node."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(f"{node}: {message}")
        self.node = node


class NodeUnavailable(NodeError):
    """The command was not sent: unknown node, not connected, or stopped."""


class CommandTimeout(NodeError):
    """No reply within the timeout."""


class ConnectionLost(NodeError):
    """The connection ended while the command waited for its reply."""


class CommandRefused(NodeError):
    """The event socket refused the command (``-ERR ...`` reply)."""


class HandshakeFailed(Exception):
    """A connection attempt failed before it was usable (no ``auth/request``, rude rejection)."""


class AuthFailed(HandshakeFailed):
    """``auth <password>`` was answered with something other than ``+OK accepted``."""


class CallNotFound(NodeError):
    """No connected node has the call (it ended, or its node is down)."""
