"""NATS adapters of the directory service."""
