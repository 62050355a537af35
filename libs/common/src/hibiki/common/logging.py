"""structlog JSON logging: one JSON object per line on stderr.

Every line carries ``service``; lines about a call carry ``tenant`` and ``call_uuid``
because callers bind them with :func:`call_context` (contextvars, so they follow the
task or greenlet-free thread that handles the call).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO, cast

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (not when logging was configured):
    a test harness or a daemoniser may replace it, and a kept reference could be closed."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(service: str, level: str = "info", stream: Any = None) -> None:
    """Configure structlog (and the stdlib root logger, for libraries) to emit JSON."""
    numeric = _LEVELS.get(level.lower(), logging.INFO)
    out: TextIO = stream or cast(TextIO, _Stderr())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Third-party libraries log through the stdlib: render them as JSON too.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))
    for noisy in ("uvicorn.access", "uvicorn.error", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


@contextmanager
def call_context(tenant: str, call_uuid: str, **more: Any) -> Iterator[None]:
    """Bind tenant and call UUID to every log line written inside the block."""
    with structlog.contextvars.bound_contextvars(tenant=tenant, call_uuid=call_uuid, **more):
        yield
