"""Hibiki's small shared library: configuration, logging, auth tokens, the HTTP,
NATS and gRPC bootstraps and the one-line fatal error. Nothing domain-specific lives here."""
