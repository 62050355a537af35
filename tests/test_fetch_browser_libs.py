"""``tools/fetch_browser_libs.py`` (run by ``./dev``) against a registry of our own on loopback:
a tarball matching its pinned sha512 is extracted once (a second run asks nothing), a tampered
one is refused with nothing written, an unreachable registry only warns (exit 0), and integrity
strings other than sha512 are refused. Property: ``verify`` accepts exactly the bytes it was pinned to."""

from __future__ import annotations

import base64
import hashlib
import http.server
import importlib.util
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

TOOL = Path(__file__).resolve().parents[1] / "tools" / "fetch_browser_libs.py"
spec = importlib.util.spec_from_file_location("fetch_browser_libs", TOOL)
assert spec and spec.loader
fbl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fbl)

LIBRARY = b"var JsSIP = {version: 'test'};\n"


def tarball(content: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo("package/dist/jssip.min.js")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class Registry:
    def __init__(self) -> None:
        self.body = b""
        self.requests: list[str] = []
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:   # noqa: N802
                registry.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(registry.body)))
                self.end_headers()
                self.wfile.write(registry.body)

            def log_message(self, *args: Any) -> None:
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    reg = Registry()
    monkeypatch.setenv("HIBIKI_NPM_REGISTRY", reg.url)
    yield reg
    reg.server.shutdown()


def pins(tmp_path: Path, pinned: str) -> Path:
    path = tmp_path / "browser.toml"
    path.write_text(f'[jssip]\nversion = "9.9.9"\nintegrity = "{pinned}"\nfile = "package/dist/jssip.min.js"\n'
                    f'dest = "vendor/jssip.min.js"\n')
    return path


def test_pinned_tarball_is_extracted_once(tmp_path: Path, registry: Registry) -> None:
    registry.body = tarball(LIBRARY)
    pinned = pins(tmp_path, integrity(registry.body))
    assert fbl.main(pinned, tmp_path) == 0
    assert (tmp_path / "vendor/jssip.min.js").read_bytes() == LIBRARY
    assert registry.requests == ["/jssip/-/jssip-9.9.9.tgz"]
    assert fbl.main(pinned, tmp_path) == 0
    assert len(registry.requests) == 1                      # in place with the same pin: nothing asked


def test_tampered_tarball_is_refused(tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    registry.body = tarball(b"alert('owned')")
    assert fbl.main(pins(tmp_path, integrity(tarball(LIBRARY))), tmp_path) == 1
    assert not (tmp_path / "vendor").exists()
    assert "REFUSED: sha512 mismatch" in capsys.readouterr().err


def test_unreachable_registry_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HIBIKI_NPM_REGISTRY", "http://127.0.0.1:9")
    assert fbl.main(pins(tmp_path, integrity(b"x")), tmp_path) == 0
    assert "unavailable" in capsys.readouterr().err and not (tmp_path / "vendor").exists()


def test_only_sha512_integrity_is_accepted() -> None:
    data = tarball(LIBRARY)
    for weak in ("sha1-" + base64.b64encode(hashlib.sha1(data).digest()).decode(), "", "sha512-"):
        with pytest.raises(fbl.IntegrityError):
            fbl.verify(data, weak)


@given(st.binary(max_size=256), st.binary(max_size=256))
def test_verify_accepts_exactly_the_pinned_bytes(pinned: bytes, got: bytes) -> None:
    try:
        fbl.verify(got, integrity(pinned))
        accepted = True
    except fbl.IntegrityError:
        accepted = False
    assert accepted == (pinned == got)
