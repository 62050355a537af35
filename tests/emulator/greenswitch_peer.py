"""Runs the real greenswitch library (gevent) in a subprocess for the interop tests.

usage: greenswitch_peer.py inbound <port> <password>
       greenswitch_peer.py outbound <port>
Prints JSON lines on stdout.
"""
from __future__ import annotations

import json
import sys

import gevent
import gevent.event
import greenswitch


def inbound(port: int, password: str) -> None:
    fs = greenswitch.InboundESL(host="127.0.0.1", port=port, password=password)
    fs.connect()
    status = fs.send("api status")
    got: list[str] = []
    answered = gevent.event.Event()

    def on_answer(ev: object) -> None:
        got.append(ev.headers.get("Unique-ID", ""))  # type: ignore[attr-defined]
        answered.set()

    fs.register_handle("CHANNEL_ANSWER", on_answer)
    reply = fs.send("events plain CHANNEL_ANSWER")
    print(json.dumps({"status": status.data, "events_reply": reply.headers.get("Reply-Text")}), flush=True)
    answered.wait(timeout=5)
    print(json.dumps({"answered": got}), flush=True)
    fs.stop()


class App:
    def __init__(self, session: greenswitch.esl.OutboundSession) -> None:
        self.session = session

    def run(self) -> None:
        s = self.session
        s.myevents()
        s.linger()
        s.answer()
        ev = s.playback("tone_stream://%(100,0,440)", block=True)
        s.hangup()
        print(json.dumps({"uuid": s.uuid, "caller": s.caller_id_number,
                          "playback_response": ev.headers.get("Application-Response")}), flush=True)
        gevent.sleep(0.2)
        SERVER.stop()


SERVER: greenswitch.OutboundESLServer


def outbound(port: int) -> None:
    global SERVER
    SERVER = greenswitch.OutboundESLServer(bind_address="127.0.0.1", bind_port=port, application=App,
                                           max_connections=5)
    print(json.dumps({"listening": port}), flush=True)
    SERVER.listen()


if __name__ == "__main__":
    if sys.argv[1] == "inbound":
        inbound(int(sys.argv[2]), sys.argv[3])
    else:
        outbound(int(sys.argv[2]))
