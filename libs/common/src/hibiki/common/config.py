"""Configuration read once from prefixed environment variables.

Every setting is ``HIBIKI_<NAME>`` (shared) or ``HIBIKI_<SERVICE>_<NAME>`` (one
service). A malformed value raises :class:`ConfigError` naming the variable and
what was expected, so the process can end with one clear line.
"""

from __future__ import annotations

import ipaddress
import re
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hibiki.common.errors import ConfigError
from hibiki.common.digits import ascii_digits

PREFIX: Final = "HIBIKI_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")


@dataclass(frozen=True)
class Env:
    """Typed access to ``HIBIKI_``-prefixed variables, optionally scoped to one service."""

    environ: Mapping[str, str]
    scope: str = ""

    @classmethod
    def load(cls, scope: str = "", environ: Mapping[str, str] | None = None) -> Env:
        return cls(dict(os.environ if environ is None else environ), scope.upper())

    def key(self, name: str) -> str:
        return f"{PREFIX}{self.scope + '_' if self.scope else ''}{name.upper()}"

    def _raw(self, name: str) -> tuple[str, str | None]:
        key = self.key(name)
        value = self.environ.get(key)
        return key, (value.strip() if value is not None else None)

    def text(self, name: str, default: str | None = None) -> str:
        key, value = self._raw(name)
        if value:
            return value
        if default is None:
            raise ConfigError(f"{key} is required but not set")
        return default

    def optional(self, name: str) -> str | None:
        return self._raw(name)[1] or None

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        key, value = self._raw(name)
        if not value:
            return default
        if not ascii_digits(value.removeprefix("-")):     # int() would also take '２' and '1_000'
            raise ConfigError(f"{key}={value!r} is not a whole number")
        number = int(value)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise ConfigError(f"{key}={value!r} must be between {minimum} and {maximum}")
        return number

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        key, value = self._raw(name)
        if not value:
            return default
        if not _DECIMAL.fullmatch(value):    # float() also takes '１.５', '1_0', 'nan' and 'inf'
            raise ConfigError(f"{key}={value!r} is not a number")
        number = float(value)
        if number < minimum:
            raise ConfigError(f"{key}={value!r} must be at least {minimum}")
        return number

    def port(self, name: str, default: int) -> int:
        key, value = self._raw(name)
        if not value:
            return default
        if not (ascii_digits(value)) or not 0 <= int(value) <= 65535:
            raise ConfigError(f"{key}={value!r} is not a TCP port (0-65535)")
        return int(value)

    def flag(self, name: str, default: bool) -> bool:
        key, value = self._raw(name)
        if not value:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ConfigError(f"{key}={value!r} is not a boolean (true/false)")

    def networks(self, name: str, default: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        key, value = self._raw(name)
        text = value or default
        nets = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ConfigError(f"{key}: {part!r} is not an IP address or CIDR network") from None
        return tuple(nets)

    def path(self, name: str, default: Path) -> Path:
        key, value = self._raw(name)
        return Path(value).expanduser() if value else default


def data_dir(env: Env | None = None) -> Path:
    """Where embedded defaults keep their data (``HIBIKI_DATA_DIR``, default ``./var``)."""
    shared = Env(env.environ) if env else Env.load()
    return shared.path("DATA_DIR", Path("var")).resolve()
