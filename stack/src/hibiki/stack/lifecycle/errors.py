"""The lifecycle's errors."""

from __future__ import annotations

from hibiki.common.errors import HibikiError


class BackupError(HibikiError):
    """A backup could not be taken, does not verify, or cannot be restored."""
