"""Wiring of the call controller: outbound event socket (8084), HTTP (8085: health, metrics,
the prompts API), NATS, the directory's gRPC (IVRs), the ACD's gRPC and decisions (queues,
agent feature codes) and the prompt store."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping

from prometheus_client import REGISTRY

from hibiki.callcontrol.agent.esl_app import AgentServices
from hibiki.callcontrol.calls import ActiveCalls, CallDispatcher
from hibiki.callcontrol.channel_events import ChannelEvents
from hibiki.callcontrol.config import CallControlConfig
from hibiki.callcontrol.drain import Drain
from hibiki.callcontrol.esl.nodes import NodePool
from hibiki.callcontrol.esl.outbound import OutboundServer
from hibiki.callcontrol.esl.trust import NodeTrust, Verdict, refused
from hibiki.callcontrol.http.prompts_api import PromptsApi
from hibiki.callcontrol.http.recording_api import RecordingApi
from hibiki.callcontrol.http.audit_trail import DirectoryAudit
from hibiki.callcontrol.http.supervision_api import SupervisionApi
from hibiki.callcontrol.ivr.bridge import LoopBridge
from hibiki.callcontrol.ivr.cache import ConfigChanges, IvrCache
from hibiki.callcontrol.ivr.esl_app import IvrServices
from hibiki.callcontrol.ivr.prompts import PromptResolver
from hibiki.callcontrol.ivr.source import DirectoryIvrSource, ServiceToken
from hibiki.callcontrol.prompts.model import Prompt
from hibiki.callcontrol.prompts.store import MAX_UPLOAD_BYTES, AsyncPromptStore, PromptStore
from hibiki.callcontrol.prompts.tts import OpenJTalk
from hibiki.callcontrol.node_beacon import NodeBeacon
from hibiki.callcontrol.publisher import CallEventPublisher
from hibiki.callcontrol.queue.client import AcdClient, agent_on_device
from hibiki.callcontrol.queue.router import AcdDecisions
from hibiki.callcontrol.queue.services import QueueServices
from hibiki.common import bus, revocation
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import Component, NatsComponent, run_until_stopped
from hibiki.common.logging import get_logger
from hibiki.common.net import bind_tcp

log = get_logger("hibiki.callcontrol")


def _playback(prompt: Prompt | None) -> str | None:
    return prompt.playback if prompt is not None else None


async def main(stop: asyncio.Event, config: CallControlConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or CallControlConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    http_sock = bind_tcp(config.host, config.port, "callcontrol HTTP")
    esl_sock = bind_tcp(config.host, config.esl_port, "callcontrol event socket", reuse_port=config.esl_reuse_port)
    nc = await bus.connect(config.nats_url, "hibiki-callcontrol")
    js = nc.jetstream()
    await bus.ensure_events_stream(js, stop=stop)
    loop = asyncio.get_running_loop()
    publisher = CallEventPublisher(js, loop)
    directory = DirectoryIvrSource(config.directory_grpc, ServiceToken(authority), config.directory_timeout)
    store = PromptStore(config.prompts_root, OpenJTalk(), playback_root=config.prompts_playback_root)
    # Calls and admins' uploads each have their own conversion slots: an upload never delays a caller.
    prompts = PromptResolver(AsyncPromptStore(store))
    token = ServiceToken(authority)
    acd = AcdClient(config.acd_grpc, token, config.acd_timeout)
    decisions = AcdDecisions(nc)
    bridge = LoopBridge(loop)
    freeswitch = NodePool.from_settings(config.freeswitch, registry=REGISTRY)   # inbound event sockets
    queue = QueueServices(acd=acd, decisions=decisions, bridge=bridge, resolve=prompts.path,
                          hold_music=config.hold_music, tenant_music=lambda t: _playback(store.hold_music(t)),
                          announce_seconds=config.queue_announce_seconds,
                          enqueue_patience=config.queue_enqueue_patience, acd_timeout=config.acd_timeout,
                          node_gone=freeswitch.gone)
    ivrs = IvrCache(directory.get)      # GetIvr once per IVR and configuration version, not per call
    ivr = IvrServices(fetch=ivrs.get, resolve=prompts.path, bridge=bridge, publisher=publisher,
                      hold_music=config.hold_music, queue=queue, fetch_timeout=config.directory_timeout + 1.0,
                      recordings_root=config.recordings_dir)
    active = ActiveCalls()
    agent = AgentServices(acd=acd, bridge=bridge, timeout=2 * config.acd_timeout + 1.0)
    ChannelEvents(freeswitch, publisher, functools.partial(agent_on_device, acd))
    trust = NodeTrust(freeswitch, config.esl_limits.handshake_timeout)

    def verify(data: Mapping[str, str]) -> Verdict:      # on the event-socket hub
        if not config.esl_verify:   # development only (loopback): what the session says is believed
            task = data.get("variable_last_sched_id", "") if data.get("variable_hibiki_handoff") else ""
            return Verdict(True, "unverified", "", task)
        try:
            return bridge.call(trust.check(data), config.esl_limits.handshake_timeout)
        except TimeoutError:
            return refused("the node check took too long")

    esl = OutboundServer(esl_sock, lambda session, verdict: CallDispatcher(
        session, publisher, ivr, active, agent, handoff_task=verdict.handoff_task, node=verdict.node),
        config.esl_allow, verify, config.esl_limits)

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected, **await freeswitch.readiness(), **await esl.readiness()}

    if not config.esl_verify:
        log.warning("esl_unverified", reason="HIBIKI_CALLCONTROL_ESL_VERIFY=off: outbound event-socket sessions "
                                             "are not checked against a FreeSWITCH node (development only)")
    routes = [*PromptsApi(AsyncPromptStore(store), default_music=config.hold_music).routes(),
              *RecordingApi(freeswitch, config.recordings_dir).routes(), *SupervisionApi(freeswitch, DirectoryAudit(config.directory_http, token.current,
                                                           config.directory_timeout)).routes()]
    uploads = {r"/api/v1/tenants/[^/]+/prompts": MAX_UPLOAD_BYTES}   # audio files; everything else 1 MiB
    http = HttpServer(build_app("callcontrol", authority, routes, readiness=readiness, liveness=esl.health,
                                body_limits=uploads), http_sock)
    # Stopped in reverse: the drain (no new call, the calls in progress end or the drain time is
    # up; HTTP still answers /readyz 503), HTTP, every call left handed back to its dialplan, the socket.
    components: list[Component] = [NatsComponent(nc), publisher, revocation.RevocationWatch(nc, authority.revocations, stop=stop),
                                    directory, ConfigChanges(nc, ivrs), acd, decisions, freeswitch,
                                    NodeBeacon(nc, freeswitch, config.node_heartbeat_seconds),
                                    esl, active, http, Drain(esl, config.drain_seconds)]
    await run_until_stopped(stop, components, ready,
                            url=f"http://{config.host}:{http.port}", esl=f"{config.host}:{esl.port}",
                            directory=config.directory_grpc, acd=config.acd_grpc,
                            freeswitch=",".join(map(str, config.freeswitch.nodes)) or "none")
