"""How callcontrol's part of a call ended (an IVR, a queue): what the dispatcher does next."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    CONNECTED = "connected"          # put through to an agent from the queue; the call is over
    HAND_BACK = "hand_back"          # the dialplan's fallback route takes the call
    TRANSFERRED = "transferred"      # a branch (or a queue's maximum wait) sent the call elsewhere
    HUNG_UP = "hung_up"              # callcontrol ended the call (message, failure)
    ABANDONED = "abandoned"          # the caller hung up in a menu or waiting in the queue
    RELEASED = "released"            # the service is stopping: handed back to the dialplan
    LOST = "connection_lost"         # the event socket broke: FreeSWITCH goes on with the dialplan
