"""Fetch the browser libraries pinned in ``requirements/browser.toml`` from the npm registry
(no node needed): download ``<registry>/<name>/-/<name>-<version>.tgz``, check it against the
pinned ``integrity`` (sha512, as npm's lock files spell it), extract the one ``file`` to ``dest``
(git-ignored). ``./dev`` runs this after installing the Python dependencies.

A library already in place with the same pin is left alone (a stamp beside it records the pin).
No network: a warning, exit 0 (the page that needs the library says it is unavailable).
A tarball that does not match its integrity: nothing is written, exit 1.
``HIBIKI_NPM_REGISTRY`` points at a mirror (default https://registry.npmjs.org).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PINS = REPO / "requirements" / "browser.toml"
MAX_BYTES = 20 * 1024 * 1024


class IntegrityError(Exception):
    pass


def verify(data: bytes, integrity: str) -> None:
    """``integrity`` is ``sha512-<base64>`` (Subresource Integrity form); anything else is refused."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512" or not expected:
        raise IntegrityError(f"only sha512 integrity is accepted, not {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise IntegrityError(f"sha512 mismatch: pinned {expected}, got {actual}")


def extract(tarball: bytes, member: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        try:
            info = archive.getmember(member)
        except KeyError:
            raise IntegrityError(f"{member} is not in the tarball") from None
        handle = archive.extractfile(info) if info.isfile() else None
        if handle is None:
            raise IntegrityError(f"{member} is not a regular file")
        return handle.read()


def fetch_one(name: str, pin: dict[str, str], registry: str, root: Path = REPO) -> str | None:
    dest = root / pin["dest"]
    stamp = dest.with_name(dest.name + ".pin")
    wanted = f"{name}@{pin['version']} {pin['integrity']} {pin['file']}"
    if dest.is_file() and stamp.is_file() and stamp.read_text().strip() == wanted:
        return None
    url = f"{registry.rstrip('/')}/{name}/-/{name}-{pin['version']}.tgz"
    with urllib.request.urlopen(url, timeout=30) as reply:
        tarball = reply.read(MAX_BYTES + 1)
    if len(tarball) > MAX_BYTES:
        raise IntegrityError(f"{url} is larger than {MAX_BYTES} bytes")
    verify(tarball, pin["integrity"])
    content = extract(tarball, pin["file"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.write_bytes(content)
    partial.replace(dest)
    stamp.write_text(wanted + "\n")
    return f"{name} {pin['version']} ({pin['file']}, {len(content)} bytes) -> {pin['dest']}"


def main(pins_file: Path = PINS, root: Path = REPO) -> int:
    registry = os.environ.get("HIBIKI_NPM_REGISTRY", "https://registry.npmjs.org")
    pins = tomllib.loads(pins_file.read_text(encoding="utf-8"))
    status = 0
    for name, pin in pins.items():
        try:
            done = fetch_one(name, pin, registry, root)
            if done:
                print(f"fetch_browser_libs: {done}", file=sys.stderr)
        except IntegrityError as exc:
            print(f"fetch_browser_libs: {name} {pin['version']} REFUSED: {exc}", file=sys.stderr)
            status = 1
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            print(f"fetch_browser_libs: {name} {pin['version']} not fetched ({exc}); "
                  "pages that need it say it is unavailable", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
