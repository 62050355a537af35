"""Building CDR events for the analytics tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from hibiki.events.v1 import call_pb2, cdr_pb2, meta_pb2


def ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def cdr(tenant: str, n: int, *, event_id: str | None = None) -> cdr_pb2.CallDetailRecord:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC) + timedelta(minutes=n)
    return cdr_pb2.CallDetailRecord(
        meta=meta_pb2.EventMeta(id=event_id or str(uuid.uuid4()), tenant=tenant, call_uuid=str(uuid.uuid4())),
        direction=call_pb2.CALL_DIRECTION_INBOUND, caller_number=f"0252{n:06d}", destination_number="0258123456",
        queue_id="water", agent_id=f"agent{n % 5}", started_at=ts(start), answered_at=ts(start + timedelta(seconds=12)),
        ended_at=ts(start + timedelta(minutes=5)), wait_ms=12_000, talk_ms=288_000, hangup_cause="NORMAL_CLEARING",
        ivr_path=[call_pb2.IvrStep(menu_id="main", digits="1"), call_pb2.IvrStep(menu_id="water", digits="2")],
    )
