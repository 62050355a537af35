"""The caller's side of the ACD (CC-01): waiting in a queue, hearing where they stand, being
put through to an agent. ``client`` (AcdService over gRPC), ``router`` (the ACD's decisions
from NATS to the call they concern), ``announce`` (what a waiting caller is told),
``waiting`` (one queued call on its event-socket session)."""
