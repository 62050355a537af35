"""sipp as a phone or a carrier: scenarios written for each call (``{{name}}`` placeholders in
``sipp/*.xml``, or built here), run as root (RTP from pcap, RFC 2833 digits), with every SIP message
sipp saw kept so a test can check the final responses.

- ``register(...)``: REGISTER with digest auth, expecting 200 (or e.g. 403).
- ``call(...)``: INVITE with digest auth (or none, from a carrier address), audio, RFC 2833 digits,
  BYE; or the refusal expected (``final=403``).
- ``Uas(...)``: a phone or a carrier that waits for INVITEs in the background and answers them
  (optionally after registering first), with audio; ``.result()`` when it is done.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.switch.dtmf import write_digits
from support.switch.net import free_port, free_udp_port, free_udp_ports

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
SCENARIOS = Path(__file__).resolve().parent / "sipp"
PCAPS = Path("/usr/share/sip-tester")
AUDIO = PCAPS / "g711a.pcap"   # about 4.7 s of a-law audio; digits: support/switch/dtmf.py (payload type 101)


def available() -> bool:
    return Path(SIPP).exists()


def fill(template: str, **values: object) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise KeyError(f"scenario placeholder {{{{{m.group(1)}}}}} has no value")
        return str(values[m.group(1)])
    return re.sub(r"\{\{(\w+)\}\}", one, template)


@dataclass
class SippResult:
    returncode: int
    output: str
    messages: str   # sipp's message trace: every SIP message sent and received

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def received(self) -> list[str]:
        """Every SIP message sipp received, whole (start line, headers, body), in order."""
        found = []
        for block in re.split(r"^-{20,} .*\n", self.messages, flags=re.M):
            head, _, message = block.partition("\n\n")
            if "message received" in head:
                found.append(message.strip())
        return found

    def responses(self) -> list[int]:
        """Status codes of the SIP responses sipp received, in order."""
        return [int(m.group(1)) for m in (re.match(r"SIP/2\.0 (\d{3})", msg) for msg in self.received()) if m]

    def requests(self, method: str) -> list[str]:
        """The requests of this method sipp received (e.g. the carrier's INVITE)."""
        return [msg for msg in self.received() if msg.startswith(method + " ")]

    def final(self) -> int:
        """The last final (>= 200) response to an INVITE or REGISTER."""
        finals = [c for c in self.responses() if c >= 200]
        return finals[-1] if finals else 0


def _media(digits_pcap: Path | None, before_ms: int, talk_ms: int, speak_after_ms: int = 0,
           speak_times: int = 1) -> str:
    # Audio and digits are separate RTP streams: the digits are sent alone (``before_ms`` after the
    # answer), the audio after them; ``speak_after_ms`` delays the audio (e.g. past a greeting);
    # ``speak_times``: the audio again right after it ends (a caller who keeps talking).
    steps = []
    if digits_pcap is not None:
        steps.append(f'<pause milliseconds="{before_ms}"/>')
        steps.append(f'<nop><action><exec play_pcap_audio="{digits_pcap}"/></action></nop>')
        steps.append(f'<pause milliseconds="{_pcap_ms(digits_pcap) + 200}"/>')
    if speak_after_ms:
        steps.append(f'<pause milliseconds="{speak_after_ms}"/>')
    for _ in range(speak_times - 1):
        steps.append(f'<nop><action><exec play_pcap_audio="{AUDIO}"/></action></nop>')
        steps.append(f'<pause milliseconds="{_pcap_ms(AUDIO) + 20}"/>')
    steps.append(f'<nop><action><exec play_pcap_audio="{AUDIO}"/></action></nop>')
    steps.append(f'<pause milliseconds="{talk_ms}"/>')
    return "\n  ".join(steps)


def _pcap_ms(path: Path) -> int:
    """How long sipp takes to play a pcap (first to last packet)."""
    data = path.read_bytes()
    offset, first, last = 24, None, 0.0
    while offset + 16 <= len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset:offset + 16])
        at = seconds * 1000 + micros / 1000
        first = at if first is None else first
        last = at
        offset += 16 + length
    return int(last - (first or 0))


SDP = """v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15"""

AUTH_LINE = "\n      [authentication]"   # a blank line would end the headers

HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
"""


def _invite(cseq: int, auth: bool, user: str, domain: str, display: str, target_host: str) -> str:
    return f"""  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@{target_host} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{display}" <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{target_host}>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>{AUTH_LINE if auth else ''}
      Max-Forwards: 70
      User-Agent: sipp-hibiki
      Content-Type: application/sdp
      Content-Length: [len]

      {SDP}

    ]]>
  </send>
"""


def _ack(cseq: int, user: str, domain: str, display: str, target_host: str, branch: str) -> str:
    return f"""  <send>
    <![CDATA[

      ACK sip:[service]@{target_host} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
      From: "{display}" <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{target_host}>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""


def call_scenario(user: str, domain: str, *, auth: bool = True, final: int = 200, digits_pcap: Path | None = None,
                  before_digits_ms: int = 1000, talk_ms: int = 3000,
                  remote_bye: bool = False, display: str = "", target_host: str = "",
                  speak_after_ms: int = 0, speak_times: int = 1) -> str:
    """The scenario of one outgoing call (see ``call``); ``speak_after_ms``: the caller's audio
    starts that long after the answer (e.g. after a voicemail greeting), ``speak_times`` times."""
    display = display or user
    target_host = target_host or domain
    parts = [HEAD.format(name=f"call {'auth' if auth else 'trusted'} -> {final}")]
    cseq = 1
    if auth:
        parts.append(_invite(1, False, user, domain, display, target_host))
        parts.append('  <recv response="100" optional="true"/>\n  <recv response="407" auth="true"/>\n')
        parts.append(_ack(1, user, domain, display, target_host, "[branch-3]"))
        cseq = 2
    parts.append(_invite(cseq, auth, user, domain, display, target_host))
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
                 '  <recv response="183" optional="true"/>\n')
    if final != 200:
        parts.append(f'  <recv response="{final}"/>\n')
        parts.append(_ack(cseq, user, domain, display, target_host, "[branch-5]"))
    else:
        parts.append('  <recv response="200" rtd="true"/>\n')
        parts.append(_ack(cseq, user, domain, display, target_host, "[branch]"))
        # remote_bye: the far end hangs up (an announcement, a transfer): no pause that would miss its BYE
        parts.append("  " + _media(digits_pcap, before_digits_ms, 0 if remote_bye else talk_ms, speak_after_ms,
                                  speak_times) + "\n")
        if remote_bye:
            parts.append('  <recv request="BYE"/>\n' + _OK_TO_BYE)
        else:
            parts.append(f"""  <send retrans="500">
    <![CDATA[

      BYE sip:[service]@{target_host} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{display}" <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{target_host}>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq + 1} BYE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
""")
    parts.append("</scenario>\n")
    return "".join(parts)


def refer_scenario(user: str, domain: str, refer_to: str, headers: str = "", hold_ms: int = 2000) -> str:
    """An authenticated call that, once answered, blind-transfers the called party: a REFER to
    ``refer_to`` (a SIP URI) carrying ``headers`` (e.g. a ``Referred-By`` of the phone's choosing),
    then the NOTIFYs and FreeSWITCH's BYE of the transferring leg are answered."""
    target_host = domain
    extra = "".join(f"\n      {line}" for line in headers.splitlines() if line.strip())
    parts = [HEAD.format(name="call, then REFER"), _invite(1, False, user, domain, user, target_host),
             '  <recv response="100" optional="true"/>\n  <recv response="407" auth="true"/>\n',
             _ack(1, user, domain, user, target_host, "[branch-3]"), _invite(2, True, user, domain, user, target_host),
             '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
             '  <recv response="183" optional="true"/>\n  <recv response="200"/>\n',
             _ack(2, user, domain, user, target_host, "[branch]"), f'  <pause milliseconds="{hold_ms}"/>\n',
             f"""  <send retrans="500">
    <![CDATA[

      REFER sip:[service]@{target_host} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{user}" <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@{target_host}>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 REFER
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Refer-To: <{refer_to}>{extra}
      Content-Length: 0

    ]]>
  </send>
  <recv response="202"/>
  <label id="wait"/>
  <recv request="NOTIFY" optional="true" next="notify"/>
  <recv request="BYE" next="bye"/>
  <label id="notify"/>
{_OK_TO_BYE}  <nop next="wait"/>
  <label id="bye"/>
{_OK_TO_BYE}</scenario>
"""]
    return "".join(parts)


_OK_TO_BYE = """  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""


def uas_scenario(talk_ms: int = 3000, ring_ms: int = 0, final: int = 200, remote_bye: bool = True,
                 speak_times: int = 1) -> str:
    """Wait for an INVITE, ring ``ring_ms``, then answer with audio (``speak_times`` the recorded
    voice in a row) or refuse with ``final``."""
    parts = [HEAD.format(name="uas"), """  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
"""]
    if ring_ms:
        parts.append(f'  <pause milliseconds="{ring_ms}"/>\n')
    if final != 200:
        parts.append(f"""  <send>
    <![CDATA[

      SIP/2.0 {final} Refused
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
""")
        return "".join(parts)
    parts.append(f"""  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      {SDP}

    ]]>
  </send>
  <recv request="ACK" rtd="true" crlf="true"/>
  {_media(None, 0, 0, speak_times=speak_times)}
""")
    if remote_bye:
        parts.append('  <recv request="BYE"/>\n' + _OK_TO_BYE)
    else:
        parts.append(f'  <pause milliseconds="{talk_ms}"/>\n' + """  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
""")
    parts.append("</scenario>\n")
    return "".join(parts)


class Sipp:
    """One sipp run (``run()`` waits; ``start()`` + ``result()`` runs it in the background)."""

    def __init__(self, workdir: Path, name: str, scenario: str, remote: str | None, local_ip: str,
                 args: list[str] | None = None, timeout: float = 60.0, port: int | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.scenario_path = workdir / f"{name}.xml"
        self.scenario_path.write_text(scenario)
        self.messages_path = workdir / f"{name}.messages.log"
        self.errors_path = workdir / f"{name}.errors.log"
        self.local_ip = local_ip
        self.port = port or free_port(local_ip, udp=True)
        self.media_port = self._media_port()
        self.timeout = timeout
        self.command = [SIPP, "-sf", str(self.scenario_path), "-i", local_ip, "-p", str(self.port),
                        "-mi", local_ip, "-mp", str(self.media_port), "-m", "1", "-nostdin",
                        "-trace_msg", "-message_file", str(self.messages_path),
                        "-trace_err", "-error_file", str(self.errors_path),
                        "-timeout", f"{int(timeout)}s", "-timeout_error", "-max_recv_loops", "1000",
                        *(args or [])]
        if remote:
            self.command.append(remote)
        self.process: subprocess.Popen[str] | None = None

    def _media_port(self) -> int:
        # sipp binds media_port and media_port+1 (audio RTP, RTCP) and media_port+2, +3 (video), all at
        # start: a port among them taken by someone else ends it at once ("Unable to bind video RTP
        # socket ... Address already in use", seen in CI: the carrier never called)
        return free_udp_ports(self.local_ip, 4)

    def start(self) -> Sipp:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        cwd=self.workdir)
        return self

    def result(self, timeout: float | None = None) -> SippResult:
        assert self.process is not None, "start() first"
        try:
            output, _ = self.process.communicate(timeout=timeout or self.timeout + 15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        messages = self.messages_path.read_text(errors="replace") if self.messages_path.exists() else ""
        errors = self.errors_path.read_text(errors="replace") if self.errors_path.exists() else ""
        return SippResult(self.process.returncode, output + errors, messages)

    def run(self) -> SippResult:
        return self.start().result()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def register(workdir: Path, switch_sip: str, local_ip: str, user: str, domain: str, password: str,
             final: int = 200, expires: int = 60, auth_user: str | None = None) -> SippResult:
    """One REGISTER of ``user@domain`` with the password, expecting ``final``."""
    scenario = fill((SCENARIOS / "register.xml").read_text(), user=user, domain=domain, expires=expires,
                    final=final)
    return Sipp(workdir, f"register-{user}-{final}-{free_udp_port(local_ip)}", scenario, switch_sip, local_ip,
                ["-au", auth_user or user, "-ap", password], timeout=20).run()


def call(workdir: Path, switch_sip: str, local_ip: str, user: str, domain: str, password: str | None,
         number: str, final: int = 200, digits: str = "", talk_ms: int = 3000, background: bool = False,
         digit_gap_ms: int = 1000, **options: object) -> Sipp | SippResult:
    """Call ``number`` as ``user@domain`` (no password: a carrier trusted by address); ``digits``
    are sent as RFC 2833 events ``before_digits_ms`` after the answer, one every ``digit_gap_ms``."""
    name = f"call-{user}-{number}-{free_udp_port(local_ip)}"
    workdir.mkdir(parents=True, exist_ok=True)
    pcap = write_digits(workdir / f"{name}.digits.pcap", digits, digit_gap_ms) if digits else None
    scenario = call_scenario(user, domain, auth=password is not None, final=final, digits_pcap=pcap, talk_ms=talk_ms,
                             **options)  # type: ignore[arg-type]
    args = ["-s", number]
    if password is not None:
        args += ["-au", user, "-ap", password]
    run = Sipp(workdir, name, scenario, switch_sip, local_ip, args,
               timeout=max(30, talk_ms / 1000 + 30 + len(digits) * digit_gap_ms / 1000
                           + (int(str(options.get("speak_after_ms", 0))) + int(str(options.get("before_digits_ms", 0)))
                              + (int(str(options.get("speak_times", 1))) - 1) * (_pcap_ms(AUDIO) + 20)) / 1000))
    return run.start() if background else run.run()


class Uas(Sipp):
    """A sipp that answers one INVITE (a carrier or an unregistered phone) in the background."""

    def __init__(self, workdir: Path, local_ip: str, name: str = "uas", timeout: float = 60.0,
                 port: int | None = None, **options: object) -> None:
        super().__init__(workdir, f"{name}-{free_udp_port(local_ip)}", uas_scenario(**options),  # type: ignore[arg-type]
                         None, local_ip, [], timeout=timeout, port=port)
        self.start()

    @property
    def address(self) -> str:
        return f"{self.local_ip}:{self.port}"
