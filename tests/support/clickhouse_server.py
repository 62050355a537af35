"""Debian's clickhouse-server (18.16) started for a test on free ports, in a temp directory."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from support.servers import free_port, wait_for_port

CONFIG = """<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <tcp_port>{tcp}</tcp_port>
  <http_port>{http}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{root}/data/</path>
  <tmp_path>{root}/tmp/</tmp_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
"""
USERS = """<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"""


def binary() -> str | None:
    return shutil.which("clickhouse-server") or shutil.which("clickhouse")


class ClickHouseServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tcp_port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        (root / "config.xml").write_text(CONFIG.format(tcp=self.tcp_port, http=free_port(), root=root))
        (root / "users.xml").write_text(USERS)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"clickhouse://127.0.0.1:{self.tcp_port}/hibiki"

    def start(self) -> None:
        exe = binary()
        assert exe is not None
        command = [exe, f"--config-file={self.root / 'config.xml'}"]
        if exe.endswith("/clickhouse"):
            command.insert(1, "server")
        self.process = subprocess.Popen(command, cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.tcp_port, timeout=60)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
