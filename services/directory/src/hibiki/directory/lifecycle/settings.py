"""Where the lifecycle commands find the stores and the services (``HIBIKI_*`` variables, the
same the services read, so one environment serves both)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hibiki.common.config import Env, data_dir


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str            # the directory's store (HIBIKI_DIRECTORY_DATABASE_URL)
    journal: Path                # its change journal (HIBIKI_DIRECTORY_JOURNAL)
    backup_dir: Path             # HIBIKI_BACKUP_DIR, default <data dir>/backups
    generations: int             # HIBIKI_BACKUP_GENERATIONS, default 7
    pg_dump: str                 # HIBIKI_BACKUP_PG_DUMP: pg_dump to run on a PostgreSQL store, or "off"
    voicemail_db: Path | None    # mod_voicemail's voicemail_default.db (HIBIKI_VOICEMAIL_DB), if reachable
    voicemail_dir: Path          # FreeSWITCH's voicemail storage: <dir>/<domain>/<user>/msg_*.wav
    directory_url: str
    acd_url: str
    analytics_url: str
    recording_url: str

    @property
    def sqlite_path(self) -> Path | None:
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        shared = Env.load("", environ)
        root = data_dir(shared)

        def url(service: str, port: int) -> str:
            env = Env.load(service, environ)
            return env.text("URL", f"http://127.0.0.1:{env.port('PORT', port)}").rstrip("/")

        generations = Env.load("backup", environ).integer("GENERATIONS", 7, minimum=1)
        return cls(
            data_dir=root,
            database_url=Env.load("directory", environ).text("DATABASE_URL", f"sqlite:///{root / 'directory.sqlite'}"),
            journal=Env.load("directory", environ).path("JOURNAL", root / "directory.journal"),
            backup_dir=Env.load("backup", environ).path("DIR", root / "backups"),
            generations=generations,
            pg_dump=Env.load("backup", environ).text("PG_DUMP", "pg_dump"),
            voicemail_db=shared.path("VOICEMAIL_DB", Path()) if shared.optional("VOICEMAIL_DB") else None,
            voicemail_dir=shared.path("VOICEMAIL_DIR", root / "voicemail"),
            directory_url=url("directory", 8080),
            acd_url=url("acd", 8081),
            analytics_url=url("analytics", 8083),
            recording_url=url("recording", 8082),
        )
