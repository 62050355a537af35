"""Errors that end a process with one clear line.

    HibikiError
     ├── ConfigError    a malformed or missing setting (names the variable)
     └── StartupError   the environment refused us (port in use, NATS unreachable, ...)
"""

from __future__ import annotations


class HibikiError(Exception):
    """Base of the errors a service reports as one line and exits on."""


class ConfigError(HibikiError):
    """A setting is malformed or missing; the message names the environment variable."""


class StartupError(HibikiError):
    """A component could not start: the message says what and why."""
