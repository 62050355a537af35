"""ACD settings, from HIBIKI_ACD_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hibiki.common.config import Env, data_dir
from hibiki.common.errors import ConfigError
from hibiki.common.digits import ascii_digits


VENDOR = Path(__file__).resolve().parent / "desktop" / "vendor"


def _websocket_url(name: str, value: str) -> str:
    """``ws://`` or ``wss://`` host[:port][/path], nothing else (it goes into the page's CSP)."""
    if value and not re.fullmatch(r"wss?://[A-Za-z0-9.\[\]:-]+(/[A-Za-z0-9._~/-]*)?", value):
        raise ConfigError(f"{name}={value!r} is not a ws:// or wss:// URL")
    return value


@dataclass(frozen=True)
class AcdConfig:
    host: str
    port: int          # HTTP
    grpc_port: int
    nats_url: str
    data_dir: Path
    replica_id: str = ""            # who holds a tenant's lease; "" = <hostname>-<pid>
    advertise: str = ""             # gRPC host:port other replicas forward to; "" = host:grpc_port
    lease_seconds: float = 10.0     # a dead replica's tenants move after this
    offer_grace_seconds: float = 5.0   # added to a queue's offer timeout before the ACD calls it missed
    timezone: str = "Asia/Tokyo"    # routing profiles (time bands, seasons) are read in this zone
    directory_grpc: str = "127.0.0.1:50052"   # DirectoryService: the devices agents log in with
    directory_timeout: float = 2.0            # seconds a login waits for the directory
    desktop_sip_ws: str = ""        # the agent desktop's softphone: FreeSWITCH's SIP WebSocket (wss://...); "" = none
    desktop_vendor_dir: Path = VENDOR   # where ./dev puts the browser SIP library (jssip.min.js)
    directory_http: str = ""        # the directory's HTTP API (the screen pop's phonebook contacts); "" = none
    analytics_http: str = ""        # analytics' HTTP API (the screen pop's previous calls); "" = none
    callcontrol_http: str = ""      # callcontrol's HTTP API (the supervisor page's listen/whisper/barge); "" = none
    desktop_peer_timeout: float = 0.8   # seconds the screen pop waits for the directory
    node_silent_seconds: float = 3.0    # no callcontrol heartbeat of a FreeSWITCH node this long: failed offers are not missed
    node_lost_seconds: float = 10.0     # ... this long: the node is lost, its waiting and offered calls leave (node_lost)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AcdConfig:
        env = Env.load("acd", environ)
        shared = Env.load("", environ)
        timezone = env.text("TIMEZONE", "Asia/Tokyo")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{env.key('TIMEZONE')}={timezone!r} is not a known time zone") from None
        advertise = env.text("ADVERTISE", "")
        if advertise:
            _, colon, port = advertise.rpartition(":")
            if not colon or not (ascii_digits(port)):
                raise ConfigError(f"{env.key('ADVERTISE')}={advertise!r} is not host:port")
        lease = env.number("LEASE_SECONDS", 10.0, minimum=1.0)
        silent = env.number("NODE_SILENT_SECONDS", 3.0, minimum=0.5)
        lost = env.number("NODE_LOST_SECONDS", 10.0, minimum=1.0)
        if lost < silent:
            raise ConfigError(f"{env.key('NODE_LOST_SECONDS')}={lost:g} is shorter than "
                              f"{env.key('NODE_SILENT_SECONDS')}={silent:g}")
        return cls(
            host=env.text("HOST", "127.0.0.1"),
            port=env.port("PORT", 8081),
            grpc_port=env.port("GRPC_PORT", 50051),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=data_dir(shared),
            replica_id=env.text("REPLICA_ID", f"{socket.gethostname()}-{os.getpid()}"),
            advertise=advertise,
            lease_seconds=lease,
            offer_grace_seconds=env.number("OFFER_GRACE_SECONDS", 5.0),
            timezone=timezone,
            directory_grpc=env.text("DIRECTORY_GRPC", "127.0.0.1:50052"),
            directory_timeout=env.number("DIRECTORY_TIMEOUT", 2.0, minimum=0.1),
            desktop_sip_ws=_websocket_url(env.key("DESKTOP_SIP_WS"), env.text("DESKTOP_SIP_WS", "")),
            desktop_vendor_dir=Path(env.text("DESKTOP_VENDOR_DIR", str(VENDOR))),
            directory_http=env.text("DIRECTORY_HTTP", ""),
            analytics_http=env.text("ANALYTICS_HTTP", ""),
            callcontrol_http=env.text("CALLCONTROL_HTTP", ""),
            desktop_peer_timeout=env.number("DESKTOP_PEER_TIMEOUT", 0.8, minimum=0.05),
            node_silent_seconds=silent,
            node_lost_seconds=lost,
        )

    def advertised(self, grpc_port: int) -> str:
        """Where other replicas reach this one's gRPC server (``grpc_port``: the bound port)."""
        if self.advertise:
            return self.advertise
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"[{host}]:{grpc_port}" if ":" in host else f"{host}:{grpc_port}"
