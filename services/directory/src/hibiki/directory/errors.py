"""Errors of the configuration store, each with a stable id the admin API returns.

    ConfigStoreError
     ├── NotFound   (404, "<resource>-not-found")
     ├── Conflict   (409, "<field>-taken" or a named conflict)
     ├── Invalid    (422, "invalid-<field>")
     └── csvio.CsvError  (400/413/422: a CSV file that cannot be used as a whole)
"""

from __future__ import annotations


class ConfigStoreError(Exception):
    status = 400

    def __init__(self, error_id: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.field = field


class NotFound(ConfigStoreError):
    status = 404


class Conflict(ConfigStoreError):
    status = 409


class Invalid(ConfigStoreError):
    status = 422
