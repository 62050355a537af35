"""The closed loop of ``bench acd-service``: simulated callers and agents talking to a running ACD.

Callers enqueue a call over gRPC and wait until it has been handled, think, and call again.
Agents take the offers the ACD publishes on NATS (``hibiki.<tenant>.acd.offered``), report
RINGING then ANSWERED, talk, end the call, wrap up and save the disposition, which makes them
ready: the next waiting call is offered in that same command. Every gRPC request is timed at
the client (wall clock, request sent to reply read); an offer is timed when its NATS message
reaches this process.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc

from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common.rpc import token_metadata
from hibiki.events.v1 import acd_pb2 as ev

CALL_TIMEOUT = 30.0   # a call not handled within this is an error
RPC_TIMEOUT = 10.0
TROUBLE = ("acd.offer_missed", "acd.requeued", "acd.left")   # none of these should happen in this loop


@dataclass
class Figures:
    label: str
    seconds: float
    talk_ms: float
    latencies: list[float] = field(default_factory=list)     # every gRPC request, s
    in_window: int = 0                                        # requests answered within ``seconds``
    ready_to_offered: list[float] = field(default_factory=list)
    enqueue_to_offered: list[float] = field(default_factory=list)
    answered: int = 0
    waited: int = 0                                           # calls that were not offered at once
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu: float = 0.0                                   # this process's CPU share during the run


@dataclass
class _Offer:
    call: str
    agent: str
    received: float
    after_save: float | None    # when this agent's SaveDisposition was sent, for its first offer after it


class Loop:
    """``callers`` callers over ``agents`` (agent id -> its queue), for ``seconds``; the call ids
    start with ``label`` (one loop after another on the same tenant)."""

    def __init__(self, grpc_target: str, token: str, tenant: str, agents: dict[str, str], callers: int,
                 seconds: float, talk_ms: float, label: str, seed: int = 1) -> None:
        self.tenant, self.agents, self.callers, self.talk = tenant, agents, callers, talk_ms / 1000
        self.queues = sorted(set(agents.values()))
        self.figures = Figures(label, seconds, talk_ms)
        self.channel = grpc.aio.insecure_channel(grpc_target)
        self.stub = acd_pb2_grpc.AcdServiceStub(self.channel)
        self.metadata = token_metadata(token)
        self.random = random.Random(seed)
        self.inbox: dict[str, asyncio.Queue[tuple[float, str] | None]] = {a: asyncio.Queue() for a in agents}
        self.sent: dict[str, float] = {}          # call -> Enqueue sent
        self.position: dict[str, int] = {}       # call -> Enqueue reply position (0: offered at once)
        self.offered: dict[str, float] = {}      # call -> first offer received
        self.handled: dict[str, asyncio.Future[None]] = {}
        self.offers: list[_Offer] = []
        self.deadline = 0.0

    async def received(self, msg: Any) -> None:
        """The NATS callback for ``hibiki.<tenant>.acd.>``."""
        now = time.perf_counter()
        name = msg.subject.removeprefix(f"hibiki.{self.tenant}.")
        if name in TROUBLE:
            self.figures.errors[f"event {name}"] += 1
        if name != "acd.offered":
            return
        offer = ev.CallOffer.FromString(msg.data)
        self.offered.setdefault(offer.meta.call_uuid, now)
        for target in offer.targets:
            inbox = self.inbox.get(target.agent_id)
            if inbox is None:
                self.figures.errors["offer to an unknown agent"] += 1
            else:
                inbox.put_nowait((now, offer.meta.call_uuid))

    async def rpc(self, method: str, request: Any, counted: bool = True) -> Any:
        """One gRPC request, timed; None (and an error counted) when it fails."""
        started = time.perf_counter()
        try:
            return await getattr(self.stub, method)(request, metadata=self.metadata, timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.figures.errors[f"{method}: {exc.code().name} {exc.details()}"] += 1
            return None
        finally:
            if counted:
                ended = time.perf_counter()
                self.figures.latencies.append(ended - started)
                self.figures.in_window += ended <= self.deadline

    async def login(self) -> None:
        for agent in self.agents:
            reply = await self.rpc("AgentLogin", acd_pb2.AgentLoginRequest(
                tenant=self.tenant, agent_id=agent, device=f"seat-{agent}", ready=True), counted=False)
            if reply is None:
                raise RuntimeError(f"agent {agent} could not log in")

    async def run(self) -> Figures:
        cpu, started = time.process_time(), time.perf_counter()
        self.deadline = started + self.figures.seconds
        agents = [asyncio.create_task(self._agent(a)) for a in self.agents]
        await asyncio.gather(*(self._caller(i) for i in range(self.callers)))
        for inbox in self.inbox.values():
            inbox.put_nowait(None)          # no call left: agents stop once their wrap-up is saved
        await asyncio.gather(*agents)
        self.figures.client_cpu = (time.process_time() - cpu) / (time.perf_counter() - started)
        await self.channel.close()
        self._classify()
        return self.figures

    async def _caller(self, index: int) -> None:
        queue, made = self.queues[index % len(self.queues)], 0
        await asyncio.sleep(self.random.uniform(0, self.talk))     # not all at the same instant
        while time.perf_counter() < self.deadline:
            made += 1
            call = f"{self.figures.label.replace(' ', '-')}-c{index}-{made}"
            self.handled[call] = asyncio.get_running_loop().create_future()
            self.sent[call] = time.perf_counter()
            reply = await self.rpc("Enqueue", acd_pb2.EnqueueRequest(
                tenant=self.tenant, call_uuid=call, queue_id=queue, caller_number=f"0300{index:06d}"))
            if reply is None:
                continue
            self.position[call] = reply.position
            try:
                await asyncio.wait_for(self.handled[call], CALL_TIMEOUT)
            except asyncio.TimeoutError:
                self.figures.errors[f"call not handled within {CALL_TIMEOUT:g} s"] += 1
                return
            await asyncio.sleep(self.random.uniform(0, self.talk))   # the next caller dials

    async def _agent(self, agent: str) -> None:
        saved: float | None = None
        while (item := await self.inbox[agent].get()) is not None:
            received, call = item
            self.offers.append(_Offer(call, agent, received, saved))
            saved = None
            report = acd_pb2.ReportOfferRequest(tenant=self.tenant, call_uuid=call, agent_id=agent,
                                                outcome=acd_pb2.OFFER_OUTCOME_RINGING)
            ok = await self.rpc("ReportOffer", report) is not None
            report.outcome = acd_pb2.OFFER_OUTCOME_ANSWERED
            if ok and await self.rpc("ReportOffer", report) is not None:
                self.figures.answered += 1
                await asyncio.sleep(self.random.uniform(0.5, 1.5) * self.talk)
                await self.rpc("EndCall", acd_pb2.EndCallRequest(tenant=self.tenant, call_uuid=call))
            if call in self.handled and not self.handled[call].done():
                self.handled[call].set_result(None)
            await asyncio.sleep(self.random.uniform(0, 0.2) * self.talk)    # wrap-up
            saved = time.perf_counter()
            await self.rpc("SaveDisposition", acd_pb2.SaveDispositionRequest(
                tenant=self.tenant, agent_id=agent, call_uuid=call, case_type="bench"))

    def _classify(self) -> None:
        """Offered in the Enqueue (position 0): enqueue -> offered. Waited, then offered to an agent
        right after its SaveDisposition: ready -> offered (nothing else offers a waiting call here)."""
        f = self.figures
        for call, position in self.position.items():
            if position == 0 and call in self.offered:
                f.enqueue_to_offered.append(self.offered[call] - self.sent[call])
        f.waited = sum(1 for p in self.position.values() if p > 0)
        for o in self.offers:
            if self.position.get(o.call, 0) > 0 and o.after_save is not None and o.received == self.offered.get(o.call):
                f.ready_to_offered.append(o.received - o.after_save)
        unseen = [c for c in self.position if c not in self.offered]
        if unseen:
            f.errors["calls never offered"] += len(unseen)
