"""Test support: real servers (NATS, services) started and stopped by the tests."""
