"""One bench for a test module: ``hibiki up`` + a real FreeSWITCH + NATS events + the admin
APIs, and the phones a test starts (stopped when the test ends). See tests/freeswitch/README.md."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from support.switch import sipp
from support.switch.baresip import Baresip
from support.switch.esl import EslEvent
from support.switch.events import NatsEvents
from support.switch.freeswitch import FreeSwitch
from support.switch.net import Bench, free_port, pick_bench, release
from support.switch.stack import Api, HibikiUp

PASSWORD_BYTES = 12


class DirectoryApi(Api):
    """The directory's admin API: an accepted change returns once a replica confirmed it on
    ``hibiki.<tenant>.config.applied`` (FreeSWITCH's next request sees it)."""

    def __init__(self, base_url: str, token: str, events: NatsEvents) -> None:
        super().__init__(base_url, token)
        self.nats = events

    def request(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        mark = self.nats.mark()
        result = super().request(method, path, body, expect)
        parts = path.strip("/").split("/")
        if method != "GET" and expect is None and len(parts) >= 4 and parts[2] == "tenants":
            self.nats.wait(f"hibiki.{parts[3]}.config.applied", after=mark, timeout=10)
        return result


@dataclass
class Extension:
    """A user with one device: what a phone needs to register."""

    tenant: str
    domain: str
    user_id: str
    extension: str
    sip_username: str
    password: str
    device_id: str


class SwitchBench:
    def __init__(self, root: Path, freeswitch_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.extra_freeswitch_env = dict(freeswitch_env or {})
        self.net: Bench = pick_bench()
        self.esl_password = secrets.token_urlsafe(18)
        self.fs = FreeSwitch(root / "freeswitch", self.net)
        self.stack = HibikiUp(root / "var", {
            "HIBIKI_CALLCONTROL_FREESWITCH_NODES": f"fs1={self.fs.address}:{self.fs.ports.esl}",
            "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD": self.esl_password,
            # the agent desktop's softphone registers over this FreeSWITCH's WebSocket (ws on loopback)
            "HIBIKI_ACD_DESKTOP_SIP_WS": f"ws://{self.fs.address}:{self.fs.ports.ws}",
        })
        # `hibiki up` does not derive the services' addresses of each other from moved ports:
        # the documented variables say where callcontrol finds the ACD and the directory.
        self.stack.env.update({
            "HIBIKI_DIRECTORY_CALLCONTROL_ADDRESS": self.stack.callcontrol_esl,
            "HIBIKI_CALLCONTROL_ACD_GRPC": f"127.0.0.1:{self.stack.port('ACD_GRPC_PORT')}",
            "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": f"127.0.0.1:{self.stack.port('DIRECTORY_GRPC_PORT')}",
        })
        self.carrier_port = free_port(self.net.carrier, udp=True)   # one carrier UAS at a time listens here
        self.phones: list[Baresip] = []
        self.sipps: list[sipp.Sipp] = []
        self._n = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """The stack and FreeSWITCH start together: FreeSWITCH as soon as ``hibiki up`` has written
        ``freeswitch.env`` (before its services), so callcontrol finds its node up when it connects."""
        started = time.monotonic()
        failed: list[BaseException] = []

        def stack() -> None:
            try:
                self.stack.start()
            except BaseException as exc:     # raised below, in the caller's thread
                failed.append(exc)

        starting = threading.Thread(target=stack, name="stack-start")
        starting.start()
        env_file = self.stack.data / "freeswitch.env"
        while starting.is_alive() and not env_file.exists():
            time.sleep(0.05)
        env: dict[str, str] | None = None
        switch_failed: RuntimeError | None = None
        if env_file.exists():
            env = self.freeswitch_env()
            try:
                self.fs.start(env)
            except RuntimeError as exc:      # e.g. a port taken meanwhile: once more after the stack
                switch_failed, env = exc, None
        starting.join()
        if failed:
            self.fs.stop()
            raise failed[0]
        if env is not None and env != self.freeswitch_env():   # hibiki up moved its ports meanwhile
            self.fs.stop()
            env = None
        if env is None:
            try:
                self.fs.start(self.freeswitch_env())
            except RuntimeError:
                if switch_failed is not None:
                    print(f"FreeSWITCH's first start failed too: {switch_failed}")
                raise
        self.events = NatsEvents(self.stack.nats_url)
        self.admin_token = self.stack.token("bench-admin", "*", ("platform-admin",))
        self.directory = DirectoryApi(self.stack.directory_url, self.admin_token, self.events)
        self.acd = Api(self.stack.acd_url, self.admin_token)
        self.wait_callcontrol_ready()
        self.startup_seconds = time.monotonic() - started

    def wait_callcontrol_ready(self, timeout: float = 30.0) -> None:
        """Until callcontrol's ``/readyz`` is 200: its inbound event socket to this FreeSWITCH is up,
        without which it refuses every call handed to it (no node can vouch for the session)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                reply = httpx.get(f"{self.stack.callcontrol_url}/readyz", timeout=2)
                if reply.status_code == 200:
                    return
                last = reply.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"callcontrol not ready within {timeout} s: {last}")

    def freeswitch_env(self) -> dict[str, str]:
        """What FreeSWITCH's ``vars.xml`` reads: where the stack is, the event-socket password,
        the carrier's address; ``<data dir>/freeswitch.env`` from ``hibiki up`` wins."""
        env = {
            "HIBIKI_HOST": "127.0.0.1",
            "HIBIKI_DIRECTORY_URL": f"{self.stack.directory_url}/fsapi",
            "HIBIKI_CALLCONTROL_ADDR": self.stack.callcontrol_esl,
            "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD": self.esl_password,
            "HIBIKI_FS_ESL_ALLOW": "127.0.0.0/8",
            "HIBIKI_FS_CARRIER_CIDRS": f"{self.net.carrier}/32",
        }
        carrier = f"{self.net.carrier}:{self.carrier_port}"
        env.update({name: value.replace("{carrier}", carrier) for name, value in self.extra_freeswitch_env.items()})
        env.update(self.stack.freeswitch_env())
        return env

    def stop(self) -> None:
        """Phones first, then FreeSWITCH and the stack at the same time (each takes a few seconds)."""
        self.stop_phones()
        if hasattr(self, "events"):
            self.events.close()
        switch = threading.Thread(target=self.fs.stop, name="freeswitch-stop")
        switch.start()
        try:
            self.stack.stop()
        finally:
            switch.join()
        release(self.net)

    def stop_phones(self) -> None:
        for phone in self.phones:
            phone.stop()
        for run in self.sipps:
            run.stop()
        self.phones.clear()
        self.sipps.clear()

    # -- provisioning through the public APIs ---------------------------------------------

    def tenant(self, tenant: str, domain: str | None = None, **fields: Any) -> dict[str, Any]:
        """A tenant (its SIP domain defaults to ``<tenant>.hibiki.test``)."""
        return dict(self.directory.post("/api/v1/tenants", {"id": tenant, "domain": domain or f"{tenant}.hibiki.test",
                                                            **fields}))

    def domain(self, tenant: str) -> str:
        return str(self.directory.get(f"/api/v1/tenants/{tenant}")["domain"])

    def extension(self, tenant: str, extension: str, devices: int = 1, **user_fields: Any) -> list[Extension]:
        """A user with ``extension`` and ``devices`` devices (SIP usernames ``<ext>``, ``<ext>-2``, ...),
        each with its own fresh password."""
        domain = self.domain(tenant)
        user = self.directory.post(f"/api/v1/tenants/{tenant}/users",
                                   {"username": f"u{extension}", "extension": extension, **user_fields})
        made = []
        for n in range(devices):
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            sip_username = extension if n == 0 else f"{extension}-{n + 1}"
            device = self.directory.post(f"/api/v1/tenants/{tenant}/devices",
                                         {"user_id": user["id"], "sip_username": sip_username, "password": password,
                                          "kind": "desk_phone" if n == 0 else "softphone"})
            made.append(Extension(tenant, domain, user["id"], extension, sip_username, password, device["id"]))
        return made

    # -- phones ---------------------------------------------------------------------------

    def phone_address(self) -> str:
        self._n += 1
        return self.net.phone(self._n % 200)

    def baresip(self, ext: Extension, auto_answer: bool = True, register: bool = True, max_calls: int = 4,
                 tone_hz: int = 440, record: bool = False) -> Baresip:
        """A baresip phone for ``ext`` (registered when ``register``; waits for REGISTER_OK);
        ``max_calls=1`` makes it answer a second call with 486 Busy Here; it sends a ``tone_hz`` sine;
        ``record`` writes what it sends and hears (``dump-*-enc.wav``, ``dump-*-dec.wav``) into its directory."""
        phone = Baresip(self.root / "phones", self.phone_address(), self.fs.sip, ext.sip_username, ext.domain,
                        ext.password, auto_answer=auto_answer, register=register, max_calls=max_calls,
                        tone_hz=tone_hz, record=record)
        self.phones.append(phone)
        if register:
            phone.wait_registered()
        return phone

    def sipp_register(self, ext: Extension, password: str | None = None, final: int = 200) -> sipp.SippResult:
        return sipp.register(self.root / "sipp", self.fs.sip, self.phone_address(), ext.sip_username, ext.domain,
                             password if password is not None else ext.password, final=final)

    def sipp_call(self, ext: Extension, number: str, final: int = 200, digits: str = "", talk_ms: int = 3000,
                  **options: Any) -> sipp.SippResult:
        """``ext`` calls ``number`` with sipp (audio, RFC 2833 ``digits``) and waits for the end."""
        result = sipp.call(self.root / "sipp", self.fs.sip, self.phone_address(), ext.sip_username, ext.domain,
                           ext.password, number, final=final, digits=digits, talk_ms=talk_ms, **options)
        assert isinstance(result, sipp.SippResult)
        return result

    def sipp_call_background(self, ext: Extension, number: str, **options: Any) -> sipp.Sipp:
        run = sipp.call(self.root / "sipp", self.fs.sip, self.phone_address(), ext.sip_username, ext.domain,
                        ext.password, number, background=True, **options)
        assert isinstance(run, sipp.Sipp)
        self.sipps.append(run)
        return run

    def carrier_call(self, did: str, caller: str = "0312345678", final: int = 200, digits: str = "",
                     talk_ms: int = 3000, background: bool = False, **options: Any) -> sipp.Sipp | sipp.SippResult:
        """The carrier (trusted by address, no digest) delivers a call from ``caller`` to ``did``."""
        run = sipp.call(self.root / "sipp", self.fs.sip, self.net.carrier, caller, self.net.carrier, None, did,
                        final=final, digits=digits, talk_ms=talk_ms, background=background,
                        target_host=self.fs.sip, **options)
        if isinstance(run, sipp.Sipp):
            self.sipps.append(run)
        return run

    def carrier_uas(self, **options: Any) -> sipp.Uas:
        """A carrier that answers one INVITE on the carrier address (see ``sipp.uas_scenario``)."""
        uas = sipp.Uas(self.root / "sipp", self.net.carrier, name="carrier", port=self.carrier_port, **options)
        self.sipps.append(uas)
        return uas

    def carrier_gateway(self, tenant: str, name: str, **fields: Any) -> dict[str, Any]:
        """A carrier gateway (admin API) to the bench's carrier, made the tenant's outbound
        gateway and loaded into FreeSWITCH (``sofia profile internal rescan``)."""
        gateway = self.directory.post(f"/api/v1/tenants/{tenant}/gateways", {
            "name": name, "proxy": self.net.carrier, "port": self.carrier_port, "register": False, **fields})
        self.directory.patch(f"/api/v1/tenants/{tenant}", {"outbound_gateway": name})
        self.fs.api("sofia profile internal rescan")
        deadline = time.monotonic() + 10
        while "Invalid Gateway" in self.fs.api(f"sofia status gateway {name}"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"gateway {name} not loaded: {self.fs.api('sofia status')}")
            time.sleep(0.2)
        return dict(gateway)

    # -- what FreeSWITCH saw --------------------------------------------------------------

    @contextmanager
    def hangups(self) -> Iterator[list[EslEvent]]:
        """Collects CHANNEL_HANGUP_COMPLETE events (with the RTP statistics of each leg:
        ``rtp_stats(event)``) while the block runs, and briefly after it."""
        esl = self.fs.esl()
        esl.subscribe("CHANNEL_HANGUP_COMPLETE")
        seen: list[EslEvent] = []
        try:
            yield seen
        finally:
            # Until every channel is gone and no hangup has arrived for a second: a channel's count drops
            # before its CHANNEL_HANGUP_COMPLETE reaches this socket, so an empty switch alone is too early.
            deadline, last = time.monotonic() + 10, time.monotonic()
            while time.monotonic() < deadline and (not seen or self.fs.channel_count() > 0
                                                   or time.monotonic() - last < 1.0):
                try:
                    seen.append(esl.events.get(timeout=0.3))
                    last = time.monotonic()
                except Exception:  # noqa: BLE001 - queue.Empty
                    pass
            esl.close()


def rtp_stats(event: EslEvent) -> tuple[int, int]:
    """(media packets in, media packets out) of one leg, from its hangup event."""
    return (int(event.get("variable_rtp_audio_in_media_packet_count", "0") or 0),
            int(event.get("variable_rtp_audio_out_media_packet_count", "0") or 0))
