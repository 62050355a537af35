"""The supervisor page (CC-06): the tenant's agents and queues live, state changes, and listen,
whisper, barge on an agent's call through callcontrol."""
