"""The real-switch test bench: ``hibiki up``, a real FreeSWITCH on the project's configuration,
sipp and baresip phones, raw ESL and NATS, all on loopback addresses and free ports.
``tests/freeswitch/README.md`` shows how tests use it."""
