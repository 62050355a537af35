"""Call-control settings, from HIBIKI_CALLCONTROL_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from hibiki.callcontrol.esl.nodes import FsNodeSettings
from hibiki.callcontrol.esl.outbound import SessionLimits
from hibiki.callcontrol.prompts.store import prompts_root
from hibiki.common.config import Env, data_dir
from hibiki.common.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class CallControlConfig:
    host: str
    port: int            # HTTP: health, metrics
    esl_port: int        # outbound event socket FreeSWITCH connects to
    esl_allow: tuple[Network, ...]
    nats_url: str
    data_dir: Path
    directory_grpc: str = "127.0.0.1:50052"     # DirectoryService (GetIvr)
    directory_timeout: float = 2.0              # seconds a call waits for its IVR
    directory_http: str = "http://127.0.0.1:8080"  # the directory's HTTP API: the audit trail (supervision)
    prompts_dir: Path | None = None             # the prompt store (default <data_dir>/prompts)
    prompts_playback_root: str | None = None    # the same store as FreeSWITCH nodes mount it
    hold_music: str = "local_stream://default"  # what a queued caller hears (freeswitch/conf: hold_music)
    recordings_dir: str = ""                    # where FreeSWITCH writes call recordings ("" = none)
    freeswitch: FsNodeSettings = FsNodeSettings()  # inbound event sockets: HIBIKI_CALLCONTROL_FREESWITCH_*
    acd_grpc: str = "127.0.0.1:50051"           # AcdService (queues)
    acd_timeout: float = 3.0                    # seconds for one ACD request
    queue_announce_seconds: float = 30.0        # a waiting caller hears position and wait this often (0: never)
    queue_enqueue_patience: float = 15.0        # seconds a caller waits for an ACD that cannot be asked
    esl_limits: SessionLimits = SessionLimits()  # outbound event socket: sessions at once, handshake timeout
    esl_verify: bool = True                     # a node must vouch for every session (off: development, loopback only)
    esl_reuse_port: bool = False                # SO_REUSEPORT: a replacement may listen on the same address
    drain_seconds: float = 540.0                # on SIGTERM, how long the calls in progress may go on
    node_heartbeat_seconds: float = 1.0         # FsNodeHeartbeat of each connected node this often (the ACD's node watch)

    @property
    def prompts_root(self) -> Path:
        return self.prompts_dir or prompts_root(self.data_dir)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> CallControlConfig:
        env = Env.load("callcontrol", environ)
        shared = Env.load("", environ)
        data = data_dir(shared)
        playback_root = env.optional("PROMPTS_PLAYBACK_ROOT")
        if playback_root is not None and not playback_root.startswith("/"):
            raise ConfigError(f"{env.key('PROMPTS_PLAYBACK_ROOT')}={playback_root!r} is not an absolute path")
        host = env.text("HOST", "127.0.0.1")
        verify = env.text("ESL_VERIFY", "node")
        if verify not in ("node", "off"):
            raise ConfigError(f"{env.key('ESL_VERIFY')}={verify!r}: 'node' (the default) or 'off'")
        if verify == "off" and not _loopback(host):
            raise ConfigError(f"{env.key('ESL_VERIFY')}=off trusts anyone who reaches the event socket: "
                              f"only for development, with {env.key('HOST')} on loopback (not {host!r})")
        return cls(
            host=host,
            port=env.port("PORT", 8085),
            esl_port=env.port("ESL_PORT", 8084),
            esl_allow=env.networks("ESL_ALLOW", "127.0.0.0/8,::1/128"),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=data,
            directory_grpc=env.text("DIRECTORY_GRPC", "127.0.0.1:50052"),
            directory_timeout=env.number("DIRECTORY_TIMEOUT", 2.0, minimum=0.1),
            directory_http=env.text("DIRECTORY_HTTP", "http://127.0.0.1:8080"),
            prompts_dir=env.path("PROMPTS_DIR", prompts_root(data)).resolve(),
            prompts_playback_root=playback_root,
            hold_music=env.text("HOLD_MUSIC", "local_stream://default"),
            recordings_dir=str(shared.path("RECORDING_SPOOL_DIR", env.path("RECORDINGS_DIR", data / "recordings"))),
            freeswitch=FsNodeSettings.from_env(env),
            acd_grpc=env.text("ACD_GRPC", "127.0.0.1:50051"),
            acd_timeout=env.number("ACD_TIMEOUT", 3.0, minimum=0.1),
            queue_announce_seconds=env.number("QUEUE_ANNOUNCE_SECONDS", 30.0, minimum=0.0),
            queue_enqueue_patience=env.number("QUEUE_ENQUEUE_PATIENCE", 15.0, minimum=0.0),
            esl_limits=SessionLimits(max_sessions=int(env.number("ESL_MAX_SESSIONS", 2000, minimum=1)),
                                     handshake_timeout=env.number("ESL_HANDSHAKE_TIMEOUT", 3.0, minimum=0.1)),
            esl_verify=verify == "node",
            esl_reuse_port=_on_off(env, "ESL_REUSEPORT"),
            drain_seconds=env.number("DRAIN_SECONDS", 540.0, minimum=0.0),
            node_heartbeat_seconds=env.number("NODE_HEARTBEAT_SECONDS", 1.0, minimum=0.1),
        )


def _on_off(env: Env, name: str) -> bool:
    value = env.text(name, "off")
    if value not in ("on", "off"):
        raise ConfigError(f"{env.key(name)}={value!r}: 'on' or 'off'")
    return value == "on"


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
