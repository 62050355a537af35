"""NATS adapters of the analytics service."""
