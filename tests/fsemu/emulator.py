"""The facade: ``FreeSwitchEmulator`` (inbound ESL server, calls, dialplan) and ``Call``."""
from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from typing import Any, Callable

from .api import Api
from .apps import AppTable, default_apps
from .sched import Scheduler, app_sched_cancel, app_sched_transfer
from .bridge import app_bridge
from .channel import Channel, ChannelSeed
from .core import Switch
from .dialplan import FIELDS, route
from .directory import Directory
from .events import Clock, CoreInfo, Event, system_clock
from .inbound import InboundServer
from .outbound import OutboundListener, socket_app
from .session import CallSession
from .sofia_reg import Registrar, Registration, RegisterResult, SofiaProfile
from .xml_curl import XmlCurlClient

__all__ = ["FreeSwitchEmulator", "Call"]

log = logging.getLogger("fsemu")


class Call:
    """A test's handle on a placed call."""

    def __init__(self, session: CallSession, task: "asyncio.Task[None]") -> None:
        self.session = session
        self.channel: Channel = session.ch
        self.task = task

    uuid = property(lambda self: self.channel.uuid)
    state = property(lambda self: self.channel.state)
    variables = property(lambda self: self.channel.variables)
    executed = property(lambda self: self.channel.executed)
    events = property(lambda self: self.channel.events)
    hangup_cause = property(lambda self: self.channel.hangup_cause)

    @property
    def finished(self) -> "asyncio.Task[None]":
        return self.task

    @property
    def hungup(self) -> Any:
        return self.channel.hangup_event.wait()

    async def wait_for(self, cond: Callable[[Channel], bool], timeout: float = 5.0) -> None:
        await self.channel.wait_for(cond, timeout)

    def event_names(self) -> list[str]:
        return [e.name for e in self.channel.events]

    def hangup_by_caller(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller sends BYE."""
        self.session.hangup(cause, by_caller=True)

    def send_dtmf(self, digits: str) -> None:
        self.channel.dtmf.extend(digits)


class FreeSwitchEmulator:
    def __init__(self, *, password: str = "ClueCon", core: CoreInfo | None = None, clock: Clock = system_clock,
                 first_sequence: int = 1, uuid_factory: Callable[[], str] | None = None,
                 playback_delay: float = 0.0, host: str = "127.0.0.1", port: int = 0,
                 directory_url: str | None = None, directory_xml: str | ET.Element | None = None,
                 directory_auth: tuple[str, str] | None = None, directory_post_vars: tuple[str, ...] | None = None,
                 sofia_profile: SofiaProfile | None = None, global_vars: dict[str, str] | None = None) -> None:
        """``directory_url``: the mod_xml_curl binding of the ``directory`` section (user_call,
        sip_auth); ``directory_xml``: the static ``directory`` section behind it.  Without
        either, ``user/`` endpoints are not expanded (scripted as a whole) and every REGISTER
        is refused.  ``directory_post_vars``: the binding's ``enable-post-var`` list.
        ``global_vars``: switch-wide variables (``$${..}``, ``domain``)."""
        self.password = password
        self.switch = Switch(core=core, clock=clock, first_sequence=first_sequence, uuid_factory=uuid_factory)
        self.global_vars: dict[str, str] = dict(global_vars or {})
        self.peer_vars: dict[str, dict[str, str]] = {}   # B-legs of bridges while they last
        self.directory = Directory(self.switch, directory_url, directory_xml, directory_auth, directory_post_vars)
        self.registrar = Registrar(self.switch, self.directory, sofia_profile, self.global_vars)
        self.apps: AppTable = default_apps()
        self.apps.add("socket", socket_app)
        self.apps.add("bridge", app_bridge)
        self.apps.add("sched_transfer", app_sched_transfer)
        self.apps.add("sched_cancel", app_sched_cancel)
        self.scheduler = Scheduler()
        self.api = Api(self)
        self.sessions: dict[str, CallSession] = {}
        self.calls: list[Call] = []
        self.playback_delay = playback_delay
        self.inbound = InboundServer(self, host, port)
        self.log: list[Event] = []

    @property
    def esl_port(self) -> int:
        return self.inbound.port

    async def start(self) -> "FreeSwitchEmulator":
        await self.inbound.start()
        return self

    async def stop(self) -> None:
        for s in list(self.sessions.values()):
            s.hangup("MANAGER_REQUEST")
        if self.calls:
            await asyncio.wait([c.task for c in self.calls], timeout=5)
        await self.inbound.stop()

    async def crash(self) -> None:
        """The process dies (``kill -9``): every event socket closes at once, outbound and
        inbound, with no hangup event, no disconnect notice and no dialplan after; its calls are
        gone with it. ``start`` brings up a fresh node (no call of the old one)."""
        sinks = list(self.switch.sinks)
        self.switch.sinks.clear()                 # nothing more reaches any socket
        for call in self.calls:
            call.task.cancel()
        if self.calls:
            await asyncio.wait([c.task for c in self.calls], timeout=5)
        self.calls.clear()
        self.sessions.clear()
        for sink in sinks:
            owner = getattr(sink, "__self__", None)
            if isinstance(owner, OutboundListener):
                owner.running = False
                owner.writer.transport.abort()
        await self.inbound.stop()

    async def __aenter__(self) -> "FreeSwitchEmulator":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- registrations (mod_sofia) -----------------------------------------------------------
    async def register(self, user: str, domain: str, password: str | None = None, *,
                       device_contact: str | None = None, network_ip: str = "127.0.0.1",
                       expires: int | None = 3600, **kwargs: Any) -> RegisterResult:
        """A phone REGISTERs as ``user@domain`` (see ``Registrar.register`` for the options)."""
        return await self.registrar.register(user, domain, password, device_contact=device_contact,
                                             network_ip=network_ip, expires=expires, **kwargs)

    async def unregister(self, user: str, domain: str, password: str | None = None, *,
                         device_contact: str | None = None, network_ip: str = "127.0.0.1",
                         **kwargs: Any) -> RegisterResult:
        """REGISTER with ``Expires: 0``."""
        return await self.register(user, domain, password, device_contact=device_contact, network_ip=network_ip,
                                   expires=0, **kwargs)

    @property
    def registrations(self) -> list[Registration]:
        return self.registrar.registrations()

    def sofia_contact(self, arg: str) -> str:
        return self.registrar.sofia_contact(arg)

    # ---- calls ----------------------------------------------------------------------------
    async def place_call(self, destination: str = "7100", caller_id_number: str = "1000", *,
                         caller_id_name: str | None = None, domain: str = "127.0.0.1", context: str = "default",
                         dialplan_url: str | None = None, dialplan_xml: str | ET.Element | None = None,
                         dtmf: list[str] | str | None = None, answering_endpoints: dict[str, object] | None = None,
                         seed: ChannelSeed | None = None, variables: dict[str, str] | None = None) -> Call:
        seed = seed or ChannelSeed(caller_id_name=caller_id_name, caller_id_number=caller_id_number,
                                   destination=destination, domain=domain, context=context)
        if variables:
            seed.extra_variables.update(variables)
        ch = Channel(self.switch, seed)
        ch.dtmf.extend(list(dtmf or []))
        s = CallSession(ch, self.apps)
        s.emulator = self
        s.playback_delay = self.playback_delay
        s.answering_endpoints = answering_endpoints or {}  # type: ignore[attr-defined]
        self.sessions[ch.uuid] = s
        task = asyncio.ensure_future(self._run(s, dialplan_url, dialplan_xml))
        call = Call(s, task)
        self.calls.append(call)
        return call

    async def originate(self, url: str, exten: str) -> str:
        call = await self.place_call(destination=exten.lstrip("&"), dialplan_xml=None)
        return f"+OK {call.uuid}\n"

    async def _fetch(self, s: CallSession, url: str | None, doc: str | ET.Element | None) -> ET.Element | None:
        if isinstance(doc, ET.Element):
            return doc
        if isinstance(doc, str):
            try:
                return ET.fromstring(doc)
            except ET.ParseError:
                log.error("Error Parsing Result!")
                return None
        if url:
            ch = s.ch
            client = XmlCurlClient(url, hostname=self.switch.core.hostname, core=self.switch.core,
                                   clock=self.switch.clock, sequence=self.switch.seq.next)
            # Like dialplan_xml_locate: the channel's own variables travel as variable_<name>.
            channel_vars = {f"variable_{k}": v for k, v in ch.variables.items()}
            resp = await client.dialplan(destination_number=ch.destination, caller_id_number=ch.caller_id_number,
                                         context=ch.context, **{**channel_vars, "Unique-ID": ch.uuid,
                                                                "Channel-Call-UUID": ch.uuid,
                                                                "Caller-Unique-ID": ch.uuid, "Hunt-Unique-ID": ch.uuid})
            return None if resp.not_found else resp.xml
        return None

    def _field(self, ch: Channel) -> Callable[[str], str | None]:
        def get(name: str) -> str | None:
            if name.startswith("$"):
                return ch.get_var(name[1:])
            attr = FIELDS.get(name)
            return str(getattr(ch, attr)) if attr else ch.get_var(name)
        return get

    async def _run(self, s: CallSession, url: str | None, doc: str | ET.Element | None) -> None:
        ch = s.ch
        try:
            ch.set_state("CS_INIT")
            while True:
                ch.set_state("CS_ROUTING")
                ch.hit_dialplan = True
                xml = await self._fetch(s, url, doc)
                result = route(xml, ch.context, self._field(ch), ch.set_var) if xml is not None else None
                if result is None or not result.actions:
                    log.info("No Route, Aborting")
                    s.hangup("NO_ROUTE_DESTINATION")
                    break
                ch.set_state("CS_EXECUTE")
                s.transfer_to = None
                s.transferred.clear()
                for act in result.actions:
                    if not ch.up or s.transfer_to:
                        break
                    await s.execute(act.app, act.data or None)
                if s.transfer_to and ch.up:
                    continue
                break
        except Exception:
            log.exception("call failed")
        finally:
            s.finish()
            self.sessions.pop(ch.uuid, None)
