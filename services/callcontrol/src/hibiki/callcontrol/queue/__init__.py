"""The caller's side of the ACD (CC-01): waiting in a queue, hearing where they stand, being
put through to an agent. ``client`` (AcdService over gRPC), ``router`` (the ACD's decisions
from NATS to the call they concern), ``services`` (what calls share, one call's line to the
ACD), ``waiting`` (one queued call on its event-socket session), ``ringing`` (the agents an
offer names), ``leaving`` (the maximum wait's destinations), ``announce`` (what a waiting
caller is told)."""
