"""The events an IVR publishes, one method each, on ``hibiki.<tenant>.call.<event>``:

``ivr_entered`` (IvrEntered), ``menu_choice`` (MenuChoice: the step and the whole path so
far), ``queue_entered`` (QueueEntered with the path), ``abandoned`` (CallAbandoned: the
caller hung up inside the IVR or waiting in the queue). Publishing never blocks the call.
"""

from __future__ import annotations

from collections.abc import Sequence

from hibiki.callcontrol.ivr.instructions import Enqueue, Step
from hibiki.callcontrol.publisher import EventSink, meta
from hibiki.events.v1 import call_pb2, recording_pb2


def ivr_steps(path: Sequence[Step]) -> list[call_pb2.IvrStep]:
    return [call_pb2.IvrStep(menu_id=s.menu_id, menu_name=s.menu_name, digits=s.digits, branch=s.branch) for s in path]


class IvrNotifier:
    def __init__(self, publisher: EventSink, tenant: str, call_uuid: str, node: str) -> None:
        self._publisher = publisher
        self._tenant, self._call_uuid, self._node = tenant, call_uuid, node

    def entered(self, ivr_id: str, ivr_name: str) -> None:
        self._publisher.publish(self._tenant, "ivr_entered", call_pb2.IvrEntered(
            meta=meta(self._tenant, self._call_uuid, self._node), ivr_id=ivr_id, ivr_name=ivr_name))

    def choice(self, step: Step, path: Sequence[Step]) -> None:
        self._publisher.publish(self._tenant, "menu_choice", call_pb2.MenuChoice(
            meta=meta(self._tenant, self._call_uuid, self._node), step=ivr_steps([step])[0], path=ivr_steps(path)))

    def queue_entered(self, queue: Enqueue, path: Sequence[Step]) -> None:
        self._publisher.publish(self._tenant, "queue_entered", call_pb2.QueueEntered(
            meta=meta(self._tenant, self._call_uuid, self._node), queue_id=queue.queue_id, priority=queue.priority,
            skills=list(queue.skills), ivr_path=ivr_steps(path)))

    def recording_started(self, recording_id: str) -> None:
        self._publisher.publish(self._tenant, "started", recording_pb2.RecordingStarted(
            meta=meta(self._tenant, self._call_uuid, self._node), recording_id=recording_id, reason="policy"),
            category="recording")

    def transferred(self, ivr_id: str, to_destination: str) -> None:
        self._publisher.publish(self._tenant, "transferred", call_pb2.CallTransferred(
            meta=meta(self._tenant, self._call_uuid, self._node), from_party=f"ivr:{ivr_id}",
            to_destination=to_destination, attended=False))

    def abandoned(self, queue_id: str, wait_ms: int, path: Sequence[Step]) -> None:
        self._publisher.publish(self._tenant, "abandoned", call_pb2.CallAbandoned(
            meta=meta(self._tenant, self._call_uuid, self._node), queue_id=queue_id, wait_ms=wait_ms,
            ivr_path=ivr_steps(path)))
