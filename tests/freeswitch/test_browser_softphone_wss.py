"""SIP over secure WebSocket (the ``internal`` profile's ``wss-binding``) on the real switch, as an
operator sets it up: a certificate of their own (here a self-signed one made by the test with
openssl) in ``<certs>/wss.pem`` (certificate, chain and key in one file), then
a restart of FreeSWITCH (``sofia profile internal restart`` keeps the certificate it read
at start). FreeSWITCH then presents that certificate on the WSS port
(checked from Python: the same fingerprint), and headless Chromium (which trusts it only because
it runs with ``--ignore-certificate-errors``, standing in for a certificate from a public CA)
registers JsSIP over ``wss://`` (FreeSWITCH's registration says ``transport=wss``), calls a
desk phone and hears it, with RTP both ways."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.browser import CHROMIUM_FLAGS, MEDIA_FLAGS, BrowserPage, _launch
from support.softphone import JSSIP, BrowserPhone
from support.switch.bench import SwitchBench, rtp_stats

T = "ws"


@pytest.fixture
async def trusting_page(tmp_path: Path) -> AsyncIterator[BrowserPage]:
    """``media_page`` that accepts the test's self-signed certificate."""
    async for page in _launch(tmp_path, CHROMIUM_FLAGS + MEDIA_FLAGS + ["--ignore-certificate-errors"]):
        yield page


def operator_certificate(certs: Path, host: str) -> bytes:
    """What an operator does: the certificate (and chain) and its key, PEM, in ``<certs>/wss.pem``.
    Returns the certificate's DER bytes."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = certs / "op.key", certs / "op.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=hibiki-wss-test", "-addext", f"subjectAltName=IP:{host}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    (certs / "wss.pem").write_bytes(cert.read_bytes() + key.read_bytes())
    key.unlink()
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def presented_certificate(host: str, port: int) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        return tls.getpeercert(binary_form=True) or b""


async def test_browser_registers_and_talks_over_wss(bench: SwitchBench, trusting_page: BrowserPage) -> None:
    if not JSSIP.is_file():
        pytest.skip(f"{JSSIP} is missing: ./dev fetches it from npm")
    bench.tenant(T)
    browser_ext = bench.extension(T, "7601")[0]
    desk_ext = bench.extension(T, "7602")[0]
    fs = bench.fs
    ours = operator_certificate(fs.root / "certs", fs.address)
    # FreeSWITCH reads wss.pem when it starts (a profile restart keeps the certificate it has)
    fs.stop()
    fs.start(bench.freeswitch_env())
    bench.wait_callcontrol_ready()
    deadline, last = time.monotonic() + 30, ""
    while True:                                  # the profile restarts with the operator's certificate
        try:
            presented = presented_certificate(fs.address, fs.ports.wss)
            if presented == ours:
                break
            last = f"another certificate: {ssl.DER_cert_to_PEM_cert(presented)[:80]}"
        except OSError as exc:
            last = repr(exc)
        if time.monotonic() > deadline:
            raise AssertionError(f"the WSS port does not present the operator's certificate ({last}): "
                                 f"{fs.api('sofia status profile internal')}")
        await asyncio.sleep(0.5)
    print(f"wss.pem presented: sha256 {hashlib.sha256(ours).hexdigest()[:16]}...")
    desk = bench.baresip(desk_ext, auto_answer=False)

    wss = f"wss://{fs.address}:{fs.ports.wss}"
    phone = await BrowserPhone.open(trusting_page, wss, browser_ext.sip_username, browser_ext.domain,
                                    browser_ext.password)
    registrations = fs.registrations()
    browser = next((block for block in registrations.split("\n\n") if "User:" in block and "7601@" in block), "")
    status = re.search(r"Status:\s*(\S+)", browser)
    # FreeSWITCH's status names the transport (Registered(WSS-NAT)); the path it reaches the browser by is wss
    assert status and "WSS" in status.group(1).upper() and "transport%3Dwss" in browser, registrations
    print(f"registered over WSS: {status.group(1)}")

    with bench.hangups() as legs:
        mark = await phone.mark()
        await phone.call(f"sip:7602@{browser_ext.domain}")
        await asyncio.to_thread(desk.wait, "CALL_INCOMING", 20)
        desk.answer()
        await phone.wait("confirmed", after=mark)
        await asyncio.sleep(3)
        seen = await phone.stats()
        await phone.hangup()
        await phone.wait("ended", after=mark)
    print(f"wss call: browser sent {seen['sent']}, received {seen['received']} ({seen['codec']}, DTLS {seen.get('dtls')}); "
          f"FreeSWITCH legs in/out {[rtp_stats(e) for e in legs]}")
    assert seen.get("dtls") == "connected"
    assert int(str(seen["sent"])) > 50 and int(str(seen["received"])) > 50
    assert len(legs) == 2 and all(i > 50 and o > 50 for i, o in map(rtp_stats, legs)), [rtp_stats(e) for e in legs]
