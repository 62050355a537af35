"""What ``hibiki up`` gives FreeSWITCH: its credentials, and ``<data dir>/freeswitch.env``.

The credentials are generated once into ``<data dir>/freeswitch.secrets`` (JSON, mode 0600,
like ``auth.secret``): the user and password FreeSWITCH sends to ``/fsapi`` (HTTP basic auth)
and the password of its inbound event socket. A value already in the environment wins
(``HIBIKI_DIRECTORY_FSAPI_USER``/``_PASSWORD``, ``HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD``).
They reach the directory and callcontrol through their environment, and FreeSWITCH through
``<data dir>/freeswitch.env``, rewritten at every start (mode 0600): ``export NAME=value``
lines of the variables ``freeswitch/conf/vars.xml`` reads, with the host and ports in use::

    . var/freeswitch.env && freeswitch -nonat -nf -conf $PWD/freeswitch/conf ...
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
from collections.abc import MutableMapping
from pathlib import Path
from hibiki.common.digits import ascii_digits

SECRETS = "freeswitch.secrets"
ENV_FILE = "freeswitch.env"
FSAPI_USER = "freeswitch"


def _credentials(root: Path) -> dict[str, str]:
    """The generated credentials, created on first use."""
    path = root / SECRETS
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        made = {"fsapi_user": FSAPI_USER, "fsapi_password": secrets.token_urlsafe(24),
                "esl_password": secrets.token_urlsafe(24)}
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass   # another start made it first
        else:
            with os.fdopen(fd, "w") as fh:
                json.dump(made, fh)
    stored = json.loads(path.read_text())
    return {k: str(v) for k, v in stored.items()}


def _write_private(path: Path, text: str) -> None:
    partial = path.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(partial, 0o600)
    partial.replace(path)


def _esl_port(env: MutableMapping[str, str]) -> str:
    """The event-socket port of the first configured node (FreeSWITCH's ``hibiki_esl_port``)."""
    first = (env.get("HIBIKI_CALLCONTROL_FREESWITCH_NODES") or "").split(",")[0].strip()
    target = first.partition("=")[2] or first
    port = target.rpartition("]")[2].rpartition(":")[2] if ":" in target else ""
    return port if ascii_digits(port) else "8021"


def prepare(root: Path, env: MutableMapping[str, str], host: str) -> Path:
    """Put FreeSWITCH's credentials into the services' ``env`` and write ``freeswitch.env``;
    returns its path."""
    made = _credentials(root)
    env.setdefault("HIBIKI_DIRECTORY_FSAPI_USER", made["fsapi_user"])
    env.setdefault("HIBIKI_DIRECTORY_FSAPI_PASSWORD", made["fsapi_password"])
    if not env.get("HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD") and not env.get("HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD_FILE"):
        env["HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD"] = made["esl_password"]
    esl_password = env.get("HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD")
    if not esl_password:
        esl_password = Path(env["HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD_FILE"]).expanduser().read_text().strip("\r\n")
    # the recording spool: FreeSWITCH writes calls there, callcontrol names the files, the recording
    # service takes them (one directory for all three)
    spool = env.setdefault("HIBIKI_RECORDING_SPOOL_DIR", str((root / "recordings").resolve()))
    Path(spool).mkdir(parents=True, exist_ok=True)
    directory_port = env.get("HIBIKI_DIRECTORY_PORT", "8080")
    esl_port = env.get("HIBIKI_CALLCONTROL_ESL_PORT", "8084")
    values = {
        "HIBIKI_HOST": host,
        "HIBIKI_DIRECTORY_URL": f"http://{host}:{directory_port}/fsapi",
        "HIBIKI_DIRECTORY_FSAPI_USER": env["HIBIKI_DIRECTORY_FSAPI_USER"],
        "HIBIKI_DIRECTORY_FSAPI_PASSWORD": env["HIBIKI_DIRECTORY_FSAPI_PASSWORD"],
        "HIBIKI_CALLCONTROL_ADDR": f"{host}:{esl_port}",
        "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD": esl_password,
        "HIBIKI_FS_ESL_PORT": _esl_port(env),
        "HIBIKI_RECORDING_SPOOL_DIR": spool,
    }
    lines = ["# Written by `hibiki up`: the environment FreeSWITCH needs on freeswitch/conf (vars.xml reads it).",
             f"# . {root / ENV_FILE} && freeswitch -nonat -nf -conf <hibiki>/freeswitch/conf ...",
             *(f"export {name}={shlex.quote(value)}" for name, value in values.items())]
    path = root / ENV_FILE
    _write_private(path, "\n".join(lines) + "\n")
    return path
