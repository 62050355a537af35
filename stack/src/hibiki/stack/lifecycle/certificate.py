"""Signed documents (the deletion certificate): Ed25519 over the canonical JSON of the document.

The platform's signing key is ``HIBIKI_LIFECYCLE_SIGNING_KEY_FILE`` (default
``<data dir>/lifecycle/signing.key``, PEM, created 0600 on first use); the certificate carries the
public key, and :func:`verify` checks a certificate against the key the operator trusts.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hibiki.common.config import Env


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def signing_key(data_dir: Path) -> Ed25519PrivateKey:
    path = Env.load("lifecycle").path("SIGNING_KEY_FILE", data_dir / "lifecycle" / "signing.key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
        except FileExistsError:
            pass
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def sign(document: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    key = signing_key(data_dir)
    body = {**document, "public_key": public_key_text(key.public_key()), "algorithm": "Ed25519"}
    return {**body, "signature": base64.b64encode(key.sign(_canonical(body))).decode()}


def verify(signed: dict[str, Any], public_key: str) -> bool:
    """True when ``signed`` was signed by the key whose raw public bytes are ``public_key`` (base64)
    and nothing in it changed since."""
    body = {k: v for k, v in signed.items() if k != "signature"}
    if body.get("public_key") != public_key:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)).verify(
            base64.b64decode(signed["signature"]), _canonical(body))
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True
