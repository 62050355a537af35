"""Fixtures every test folder shares (real NATS, free ports, in-process services)."""

pytest_plugins = ["support.servers", "support.postgres"]
