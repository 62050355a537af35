"""The baseline controller of ``just bench callcontrol``: it answers and hangs up, nothing else.

Same event-socket stack as callcontrol (a gevent ``StreamServer`` whose handler runs a
greenswitch ``OutboundSession`` per call: ``connect``, ``myevents``, then the application), so
the difference between the two is callcontrol's own work (dispatch, GetIvr, the IVR, events).
With it the emulator shows how many calls per second it can drive at all.

    python -m benchmarks._callcontrol_baseline PORT
"""

from __future__ import annotations

import sys
from typing import Any


def _call(sock: Any, address: tuple[str, int]) -> None:
    from greenswitch.esl import OutboundSession

    session = OutboundSession(address, sock)
    try:
        session.connect()
        session.send("myevents")
        session.call_command("answer", block=True, response_timeout=10)
        session.call_command("hangup", "NORMAL_CLEARING")
    except Exception:   # the caller went away first: nothing to do
        pass
    finally:
        session.stop()


def main(port: int) -> int:
    from gevent.server import StreamServer

    server = StreamServer(("127.0.0.1", port), _call, backlog=1024)
    server.serve_forever()          # until SIGTERM (its default action: the process ends)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
