"""What a caller hears on a fresh install, on a real FreeSWITCH 1.10.12 (issue 11, defects 1, 2, 3, 5).

The project's own ``freeswitch/conf`` (only addresses, ports and the directory URL changed through
``vars.xml``) with Hibiki's sound directory (``-sounds freeswitch/sounds``, no sound pack), the real
directory service answering ``/fsapi``, sipp as the carrier (trusted by address) and as a
provisioned phone (digest auth). Every file FreeSWITCH plays is taken from its ``PLAYBACK_START``
events on the inbound event socket; its log must show no missing file and no missing language.

Skipped, with the reason, when ``/opt/freeswitch/bin/freeswitch`` or sipp is missing (install them
with ``../shared/freeswitch/install.sh``) or when not root (sipp sends RTP and DTMF from pcap).
"""

from __future__ import annotations

import array
import asyncio
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hibiki.common.auth import TokenAuthority
from support.directory import Directory, directory_config, running_directory
from support.servers import NatsServer

ROOT = Path(__file__).resolve().parents[2]
FREESWITCH = Path("/opt/freeswitch/bin/freeswitch")
SIPP = shutil.which("sipp")
SWITCH_IP, PHONE_IP, CARRIER_IP = "127.6.0.1", "127.6.0.2", "127.6.0.9"
DOMAIN = SWITCH_IP                 # the tenant's SIP domain: what the phone puts in its From
ESL_PASSWORD = "sounds-test-esl"
SOUNDS = ROOT / "freeswitch" / "sounds"
PCAP = Path("/usr/share/sip-tester/g711a.pcap")

pytestmark = [
    pytest.mark.skipif(not FREESWITCH.exists(), reason=f"{FREESWITCH} is missing (../shared/freeswitch/install.sh)"),
    pytest.mark.skipif(SIPP is None or not PCAP.exists(), reason="sipp (Debian sip-tester) is missing"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sipp must run as root to send RTP and DTMF"),
    pytest.mark.timeout(300),
]


def free_port(ip: str) -> int:
    """A port free for both TCP and UDP on ``ip``."""
    for _ in range(50):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind((ip, 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind((ip, port))
            except OSError:
                continue
            return int(port)
    raise RuntimeError(f"no free port on {ip}")


@dataclasses.dataclass
class Switch:
    base: Path
    sip_port: int
    esl_port: int
    directory_port: int
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return (self.base / "log" / "freeswitch.log").read_text(encoding="utf-8", errors="replace")

    @property
    def storage(self) -> Path:
        return self.base / "storage"

    def api(self, command: str) -> str:
        with Esl(self.esl_port) as esl:
            return esl.api(command)


class Esl:
    """The inbound event socket, as callcontrol uses it: ``api`` commands and plain events."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((SWITCH_IP, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.read()
        self.sock.sendall(f"auth {ESL_PASSWORD}\n\n".encode())
        assert self.read()[0].get("Reply-Text", "").startswith("+OK"), "event socket refused the password"

    def __enter__(self) -> Esl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def read(self) -> tuple[dict[str, str], str]:
        headers: dict[str, str] = {}
        while True:
            line = self.file.readline().decode("utf-8", "replace").rstrip("\n")
            if not line:
                if headers:
                    break
                if self.file.peek(1) == b"":
                    raise ConnectionError("event socket closed")
                continue
            name, _, value = line.partition(": ")
            headers[name] = value
        length = int(headers.get("Content-Length", "0"))
        body = self.file.read(length).decode("utf-8", "replace") if length else ""
        return headers, body

    def api(self, command: str) -> str:
        self.sock.sendall(f"api {command}\n\n".encode())
        return self.read()[1]


class Playbacks:
    """Every file FreeSWITCH starts playing (PLAYBACK_START), with its channel, in a thread."""

    def __init__(self, port: int) -> None:
        self.esl = Esl(port)
        self.esl.sock.sendall(b"event plain PLAYBACK_START\n\n")
        self.esl.read()
        self.esl.sock.settimeout(None)
        self.played: list[tuple[str, str]] = []      # (call uuid, file)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                _, body = self.esl.read()
                event = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
                if event.get("Event-Name") == "PLAYBACK_START":
                    self.played.append((event.get("Unique-ID", ""),
                                        urllib.parse.unquote(event.get("Playback-File-Path", ""))))
        except (OSError, ConnectionError, ValueError):
            return

    def files(self) -> list[str]:
        return [path for _, path in self.played]

    def close(self) -> None:
        self.esl.sock.close()


def _conf(target: Path, sip_port: int, esl_port: int, directory_port: int) -> None:
    shutil.copytree(ROOT / "freeswitch" / "conf", target)
    variables = target / "vars.xml"
    text = variables.read_text(encoding="utf-8")
    for name, value in {
        "hibiki_host": "127.0.0.1", "hibiki_directory_url": f"http://127.0.0.1:{directory_port}/fsapi",
        "hibiki_esl_listen_ip": SWITCH_IP, "hibiki_esl_port": str(esl_port), "hibiki_esl_password": ESL_PASSWORD,
        "hibiki_callcontrol_cidrs": "127.0.0.0/8", "hibiki_carrier_cidrs": f"{CARRIER_IP}/32",
        "hibiki_sip_ip": SWITCH_IP, "hibiki_sip_port": str(sip_port), "hibiki_tls_port": str(free_port(SWITCH_IP)),
        "hibiki_ws_port": str(free_port(SWITCH_IP)), "hibiki_wss_port": str(free_port(SWITCH_IP)),
        "hibiki_rtp_start_port": "41000", "hibiki_rtp_end_port": "41999",
    }.items():
        text, count = re.subn(rf'data="{name}=[^"]*"', f'data="{name}={value}"', text, count=1)
        assert count == 1, name
        text = re.sub(rf'<X-PRE-PROCESS cmd="env-set" data="{name}=[^"]*"/>', "", text)
    variables.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    base = tmp_path_factory.mktemp("freeswitch")
    sip_port, esl_port, directory_port = free_port(SWITCH_IP), free_port(SWITCH_IP), free_port("127.0.0.1")
    _conf(base / "conf", sip_port, esl_port, directory_port)
    dirs = {name: base / name for name in ("log", "db", "run", "certs", "storage", "recordings", "temp", "cache")}
    for directory in dirs.values():
        directory.mkdir()
    command = [str(FREESWITCH), "-nonat", "-nf", "-nonatmap", "-conf", str(base / "conf"),
               *(arg for name, path in dirs.items() for arg in (f"-{name}", str(path))), "-sounds", str(SOUNDS)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    switch = Switch(base, sip_port, esl_port, directory_port, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if re.search(r"internal\s+profile\s+\S+\s+RUNNING", switch.api("sofia status")):
                    break
            except OSError:
                pass
            assert process.poll() is None, "FreeSWITCH exited at start: " + switch.log[-2000:]
            assert time.monotonic() < deadline, "FreeSWITCH did not start: " + switch.log[-2000:]
            time.sleep(0.3)
        yield switch
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hibiki sounds">
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{domain}>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
  ]]></send>
  <recv response="100" optional="true"/>
{auth}
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{domain}>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
{steps}
  <send retrans="500"><![CDATA[

      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{domain}>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {bye} BYE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""
SDP = """      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 96
      a=rtpmap:8 PCMA/8000
      a=rtpmap:96 telephone-event/8000
      a=fmtp:96 0-15
"""
AUTH = """  <recv response="407" auth="true"/>
  <send><![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
      From: <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{domain}>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{domain}>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      [authentication]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
  ]]></send>
  <recv response="100" optional="true"/>
"""


def pause(ms: int) -> str:
    return f'  <pause milliseconds="{ms}"/>\n'


def speak() -> str:
    return f'  <nop><action><exec play_pcap_audio="{PCAP}"/></action></nop>\n'


def dtmf(keys: str) -> str:
    return f'  <nop><action><exec play_dtmf="{keys}"/></action></nop>\n'


def sipp(switch: Switch, tmp: Path, number: str, steps: str, *, ip: str, user: str = "0312345678",
         password: str | None = None, background: bool = False) -> Any:
    """One call from ``ip`` to ``number`` running ``steps`` after the answer; fails unless it
    was answered and ended by our BYE (``background``: the running sipp, to wait for)."""
    auth = AUTH.format(user=user, domain=DOMAIN, sdp=SDP) if password else ""
    scenario = tmp / f"call-{number.strip('*')}-{time.monotonic_ns()}.xml"
    scenario.write_text(SCENARIO.format(user=user, domain=DOMAIN, sdp=SDP, auth=auth, steps=steps,
                                        cseq=2 if password else 1, bye=3 if password else 2), encoding="latin-1")
    command = [str(SIPP), "-sf", str(scenario), "-s", number, f"{SWITCH_IP}:{switch.sip_port}", "-i", ip, "-p",
               str(free_port(ip)), "-mi", ip, "-m", "1", "-timeout", "120", "-timeout_error", "-nostdin",
               "-trace_err", "-error_file", str(tmp / "sipp-errors.log"), "-trace_msg", "-message_file", str(tmp / "sipp-messages.log")]
    if password:
        command += ["-au", user, "-ap", password]
    if background:
        return subprocess.Popen(command, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = subprocess.run(command, cwd=tmp, capture_output=True, timeout=150, check=False)
    assert done.returncode == 0, (done.stdout.decode(errors="replace")[-1500:] +
                                  (tmp / "sipp-errors.log").read_text(errors="replace")[-1500:]
                                  if (tmp / "sipp-errors.log").exists() else "")


@pytest.fixture
async def city(switch: Switch, tmp_path: Path, nats_server: NatsServer, nats_client: Any,
               authority: TokenAuthority) -> Any:
    """The directory on the port the switch asks, with one tenant: a user 2001 with a PIN and a
    phone, a DID to the user's voicemail and a DID to an IVR (callcontrol absent) whose number
    falls back to that voicemail."""
    config = dataclasses.replace(directory_config(tmp_path, nats_server), port=switch.directory_port)
    async with running_directory(config, nats_client, authority) as d:
        await d.post("/api/v1/tenants", {"id": "kiyose", "domain": DOMAIN})
        user = await d.post("/api/v1/tenants/kiyose/users", {"username": "tanaka", "extension": "2001",
                                                             "voicemail_pin": "4821"})
        await d.post("/api/v1/tenants/kiyose/devices", {"user_id": user["id"], "sip_username": "d2001",
                                                        "password": "a long phone secret"})
        await d.post("/api/v1/tenants/kiyose/dids", {"number": "042-491-1111", "target_kind": "voicemail",
                                                     "target": user["id"]})
        await d.post("/api/v1/tenants/kiyose/ivrs", {
            "id": "main", "name": "代表", "root_menu": "top",
            "menus": [{"id": "top", "greeting": {"text": "お電話ありがとうございます。"}, "choices": {"1": {"extension": "2001"}}}]})
        await d.post("/api/v1/tenants/kiyose/dids", {"number": "042-491-2222", "target_kind": "ivr", "target": "main",
                                                     "closed_kind": "voicemail", "closed_target": user["id"]})
        yield d


def no_missing_sound(log: str) -> None:
    problems = [line for line in log.splitlines()
                if re.search(r"File .* not found|Can't find language|Invalid file format|Can't open", line)]
    assert not problems, problems[:5]


def in_tree(files: list[str], language: str) -> list[str]:
    """The played files that are Hibiki's, relative to the language's tree."""
    prefix = f"{SOUNDS}/{language}/"
    return [f[len(prefix):] for f in files if f.startswith(prefix)]


async def test_voicemail_in_japanese_leave_then_listen_with_the_pin(switch: Switch, city: Directory,
                                                                    tmp_path: Path) -> None:
    playbacks = Playbacks(switch.esl_port)
    try:
        # A caller from outside reaches the mailbox, hears the greeting, speaks after the tone.
        await asyncio.to_thread(sipp, switch, tmp_path, "0424911111", pause(9000) + speak() + pause(7000), ip=CARRIER_IP)
        left = in_tree(playbacks.files(), "ja/jp/hibiki")
        mailbox = switch.storage / "voicemail" / "default" / DOMAIN / "2001"
        messages = sorted(mailbox.glob("msg_*.wav"))
        assert len(messages) == 1, list(mailbox.parent.rglob("*"))
        with wave.open(str(messages[0])) as recorded:
            assert recorded.getnframes() / recorded.getframerate() >= 3
        # The owner dials *97 from the phone, enters the PIN and hears the count and the message.
        before = len(playbacks.played)
        await asyncio.to_thread(sipp, switch, tmp_path, "*97", pause(5000) + dtmf("4821#") + pause(14000), ip=PHONE_IP,
             user="d2001", password="a long phone secret")
        checked = playbacks.files()[before:]
    finally:
        playbacks.close()
    print(f"\nleaving a message, played: {left}\nchecking with *97, played: {checked}")
    assert left[:2] == ["voicemail/vm-not_available.wav", "voicemail/vm-record_message.wav"]
    heard = in_tree(checked, "ja/jp/hibiki")
    assert heard[0] == "voicemail/vm-enter_pass.wav"
    assert heard[1:4] == ["voicemail/vm-count_new.wav", "voicemail/count/1.wav", "voicemail/vm-there_are.wav"]
    assert str(messages[0]) in checked                       # the message itself
    assert all((SOUNDS / "ja/jp/hibiki" / f).is_file() for f in heard)
    no_missing_sound(switch.log)


async def test_a_did_to_an_ivr_without_callcontrol_apologises_then_takes_the_numbers_fallback(
        switch: Switch, city: Directory, tmp_path: Path) -> None:
    """Callcontrol is not running: the socket fails, the caller hears the Japanese apology, then
    the number's closed-hours target (the voicemail) takes the call."""
    playbacks = Playbacks(switch.esl_port)
    try:
        await asyncio.to_thread(sipp, switch, tmp_path, "0424912222", pause(9000), ip=CARRIER_IP)
        heard = in_tree(playbacks.files(), "ja/jp/hibiki")
    finally:
        playbacks.close()
    assert heard[:2] == ["system/apology.wav", "voicemail/vm-not_available.wav"], heard
    no_missing_sound(switch.log)


async def test_english_tenant_and_system_prompts(switch: Switch, city: Directory, tmp_path: Path) -> None:
    """A number nobody has: the unallocated announcement from the tenant's language tree; after
    the tenant switches to English, the same call and its voicemail speak English."""
    playbacks = Playbacks(switch.esl_port)
    try:
        await asyncio.to_thread(sipp, switch, tmp_path, "2999", pause(3000), ip=PHONE_IP, user="d2001", password="a long phone secret")
        japanese = playbacks.files()
        await city.patch("/api/v1/tenants/kiyose", {"language": "en"})
        before = len(playbacks.played)
        await asyncio.to_thread(sipp, switch, tmp_path, "2999", pause(3000), ip=PHONE_IP, user="d2001", password="a long phone secret")
        await asyncio.to_thread(sipp, switch, tmp_path, "0424911111", pause(4000), ip=CARRIER_IP)
        english = playbacks.files()[before:]
    finally:
        playbacks.close()
    assert in_tree(japanese, "ja/jp/hibiki") == ["system/unallocated.wav"]
    assert in_tree(english, "en/us/hibiki")[:2] == ["system/unallocated.wav", "voicemail/vm-not_available.wav"]
    no_missing_sound(switch.log)


async def test_hold_music_plays_the_generated_tune(switch: Switch, city: Directory, tmp_path: Path) -> None:
    """local_stream://default reads the shipped music directory, and what a caller on it gets is
    sound: a number announcing the stream, its outgoing audio recorded by FreeSWITCH itself."""
    shown = switch.api("local_stream show default")
    assert f"location: {SOUNDS}/music/8000" in shown and "ready:    true" in shown, shown
    await city.post("/api/v1/tenants/kiyose/dids", {"number": "042-491-3333", "target_kind": "announcement",
                                                     "target": "local_stream://default"})
    recording = tmp_path / "heard.wav"
    playbacks = Playbacks(switch.esl_port)
    try:
        call = sipp(switch, tmp_path, "0424913333", pause(6000), ip=CARRIER_IP, background=True)
        deadline = time.monotonic() + 10
        while not [u for u, f in playbacks.played if f == "local_stream://default"]:
            assert time.monotonic() < deadline, playbacks.played
            await asyncio.sleep(0.1)
        uuid = next(u for u, f in playbacks.played if f == "local_stream://default")
        switch.api(f"uuid_setvar {uuid} RECORD_WRITE_ONLY true")
        assert "+OK" in switch.api(f"uuid_record {uuid} start {recording}")
        await asyncio.sleep(3)
        switch.api(f"uuid_record {uuid} stop {recording}")
        assert await asyncio.to_thread(call.wait, 30) == 0
    finally:
        playbacks.close()
    with wave.open(str(recording)) as heard:
        rate = heard.getframerate()
        samples = array.array("h", heard.readframes(heard.getnframes()))
    level = (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5
    print(f"\nhold music heard: {len(samples) / rate:.1f} s, RMS {level:.0f} (peak {max(map(abs, samples))})")
    assert len(samples) / rate >= 2 and level > 500
    no_missing_sound(switch.log)
