"""sipp as the load of ``bench freeswitch``: many users from a CSV injection file (``-inf``), a
fixed rate of new transactions (``-r``/``-m``), and the figures of one run read from sipp's
statistics file (``-trace_stat``).

- ``register_scenario``: REGISTER, the 401 challenge, REGISTER with the user's digest, 200.
  ``contact`` makes the registration point at another address (the answering sipp).
- ``call_scenario``: INVITE, the 407 challenge, INVITE with the digest, 200 (its delay is the
  setup time), ACK, ``hold_ms`` of call, BYE, 200. No RTP: the figure is call setups.
- ``carrier_scenario``: a carrier's call to a number (no digest), the digit 1 after the answer,
  ``hold_ms``, BYE.
- ``answer_scenario``: the called phones (one sipp answers for all of them): INVITE, 180, 200
  with SDP, ACK, BYE, 200.

Injection file fields: ``user;peer;[authentication username=user password=...]``.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.switch.net import free_port  # noqa: E402
from support.switch.sipp import SIPP  # noqa: E402

HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="{}">\n'
SDP = """v=0
      o=bench 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 0
      a=rtpmap:8 PCMA/8000
      a=rtpmap:0 PCMU/8000"""
RECV_TIMEOUT_MS = 8000   # an answer later than this fails the transaction (FreeSWITCH drowning)


def _send(lines: str, retrans: bool = True) -> str:
    return f"""  <send{' retrans="500"' if retrans else ''}>
    <![CDATA[

{lines}

    ]]>
  </send>
"""


def register_scenario(domain: str, contact: str = "[local_ip]:[local_port]", expires: int = 3600) -> str:
    def register(cseq: int, auth: bool) -> str:
        return _send(f"""      REGISTER sip:{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@{domain}>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: <sip:[field0]@{contact}>{chr(10) + '      [field2]' if auth else ''}
      Expires: {expires}
      Max-Forwards: 70
      User-Agent: hibiki-bench
      Content-Length: 0""")
    return (HEAD.format("register") + register(1, False)
            + '  <recv response="100" optional="true"/>\n  <recv response="401" auth="true"/>\n'
            + register(2, True)
            + '  <recv response="100" optional="true"/>\n  <recv response="200" rtd="true"/>\n</scenario>\n')


def call_scenario(domain: str, hold_ms: int) -> str:
    def request(method: str, cseq: int, extra: str = "", body: bool = False, branch: str = "[branch]",
                to_tag: bool = False) -> str:
        return _send(f"""      {method} sip:[field1]@{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
      From: "[field0]" <sip:[field0]@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field1]@{domain}>{'[peer_tag_param]' if to_tag else ''}
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:[field0]@[local_ip]:[local_port]>{extra}
      Max-Forwards: 70
      User-Agent: hibiki-bench
      {'Content-Type: application/sdp' + chr(10) + '      Content-Length: [len]' + chr(10) + chr(10) + '      ' + SDP
       if body else 'Content-Length: 0'}""", retrans=method != "ACK")
    return (HEAD.format("call") + request("INVITE", 1, body=True)
            + '  <recv response="100" optional="true"/>\n  <recv response="407" auth="true"/>\n'
            + request("ACK", 1, branch="[branch-3]", to_tag=True)
            + request("INVITE", 2, extra="\n      [field2]", body=True)
            + '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
            + '  <recv response="183" optional="true"/>\n  <recv response="200" rtd="true"/>\n'
            + request("ACK", 2, to_tag=True)
            + f'  <pause milliseconds="{hold_ms}"/>\n'
            + request("BYE", 3, to_tag=True)
            + '  <recv response="200" crlf="true"/>\n</scenario>\n')


def carrier_scenario(switch: str, digit_after_ms: int, hold_ms: int) -> str:
    """A carrier (trusted by address: no digest) calls the number ``[field1]`` from ``[field0]``,
    presses 1 (SIP INFO ``application/dtmf-relay``, which FreeSWITCH takes like an RFC 2833 digit)
    ``digit_after_ms`` after the answer, stays ``hold_ms``, hangs up."""
    def request(method: str, cseq: int, body: str = "", content_type: str = "", branch: str = "[branch]",
                to_tag: bool = True) -> str:
        length = "Content-Length: [len]" if body else "Content-Length: 0"
        return _send(f"""      {method} sip:[field1]@{switch} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
      From: <sip:[field0]@[local_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field1]@{switch}>{'[peer_tag_param]' if to_tag else ''}
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: hibiki-bench-carrier
      {('Content-Type: ' + content_type + chr(10) + '      ') if content_type else ''}{length}{chr(10) + chr(10) + '      ' + body if body else ''}""",
                     retrans=method != "ACK")
    return (HEAD.format("carrier") + request("INVITE", 1, SDP, "application/sdp", to_tag=False)
            + '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
            + '  <recv response="183" optional="true"/>\n  <recv response="200" rtd="true"/>\n'
            + request("ACK", 1)
            + f'  <pause milliseconds="{digit_after_ms}"/>\n'
            + request("INFO", 2, "Signal=1\n      Duration=160", "application/dtmf-relay")
            + '  <recv response="200"/>\n'
            + f'  <pause milliseconds="{hold_ms}"/>\n'
            + request("BYE", 3)
            + '  <recv response="200" crlf="true"/>\n</scenario>\n')


def answer_scenario() -> str:
    def reply(status: str, body: bool = False, tag: bool = True) -> str:
        return _send(f"""      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:]{';tag=[pid]SIPpTag01[call_number]' if tag else ''}
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      {'Content-Type: application/sdp' + chr(10) + '      Content-Length: [len]' + chr(10) + chr(10) + '      ' + SDP
       if body else 'Content-Length: 0'}""", retrans=False)
    return (HEAD.format("answer") + '  <recv request="INVITE" crlf="true"/>\n' + reply("180 Ringing")
            + reply("200 OK", body=True).replace("<send>", '<send retrans="500">')
            + '  <recv request="ACK" crlf="true"/>\n  <recv request="BYE"/>\n' + reply("200 OK", tag=False)
            + "</scenario>\n")


def injection(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """``rows`` of (user, peer, password) as sipp's SEQUENTIAL injection file."""
    with path.open("w", newline="") as fh:
        fh.write("SEQUENTIAL\n")
        writer = csv.writer(fh, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
        for user, peer, password in rows:
            writer.writerow([user, peer, f"[authentication username={user} password={password}]"])
    return path


@dataclass(frozen=True)
class Step:
    """One sipp run at one offered rate."""

    offered_rate: float
    offered: int
    successful: int
    failed: int
    seconds: float          # from the first transaction sent to the last one started
    response_ms: float      # mean time to the answer marked rtd (the 200)

    @property
    def rate(self) -> float:
        return self.successful / self.seconds if self.seconds > 0 else 0.0

    @property
    def failure_share(self) -> float:
        done = self.successful + self.failed
        return self.failed / done if done else 1.0

    @property
    def kept_up(self) -> bool:
        """Failures under 1 % and the rate offered reached (sipp not held back by its limit)."""
        return self.failure_share < 0.01 and self.successful >= 0.99 * self.offered and \
            self.rate >= 0.9 * self.offered_rate


def _seconds(value: str) -> float:
    """sipp's ``HH:MM:SS`` or ``HH:MM:SS:uuuuuu`` (microseconds; milliseconds with 3 digits)."""
    parts = value.strip().split(":")
    seconds = int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
    if len(parts) > 3:
        seconds += int(parts[3]) / 10 ** len(parts[3])
    return seconds


def _epoch(value: str) -> float:
    """The epoch seconds at the end of sipp's ``date<TAB>time<TAB>epoch`` stamps."""
    return float(value.split("\t")[-1])


def read_stats(path: Path) -> dict[str, str]:
    """The last line of sipp's statistics file, by column name."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    header, last = lines[0].split(";"), lines[-1].split(";")
    return dict(zip(header, last))


def run(workdir: Path, name: str, scenario: str, inf: Path, remote: str, local_ip: str, rate: float,
        count: int, hold_ms: int = 0) -> Step:
    """``count`` transactions at ``rate`` per second; waits for the last one to end."""
    workdir.mkdir(parents=True, exist_ok=True)
    scenario_path = workdir / f"{name}.xml"
    scenario_path.write_text(scenario)
    stats = workdir / f"{name}.stats.csv"
    stats.unlink(missing_ok=True)
    limit = max(50, int(rate * (hold_ms / 1000 + RECV_TIMEOUT_MS / 1000) * 2))
    command = [SIPP, remote, "-sf", str(scenario_path), "-inf", str(inf), "-i", local_ip,
               "-p", str(free_port(local_ip, udp=True)), "-r", f"{rate:g}", "-rp", "1000", "-m", str(count),
               "-l", str(limit), "-aa", "-nostdin", "-recv_timeout", str(RECV_TIMEOUT_MS),
               "-trace_stat", "-stf", str(stats), "-fd", "1",
               "-trace_err", "-error_file", str(workdir / f"{name}.errors.log"),
               "-timeout", f"{int(count / rate + hold_ms / 1000 + 60)}s"]
    started = time.monotonic()
    done = subprocess.run(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=count / rate + hold_ms / 1000 + 120)
    wall = time.monotonic() - started
    if not stats.exists():
        raise RuntimeError(f"sipp {name} wrote no statistics (exit {done.returncode}): {done.stderr[-500:]}")
    row = read_stats(stats)
    successful, failed = int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"])
    # the transactions were started over count/rate seconds at the offered rate, longer when sipp was
    # held back by its limit of open calls; the last call's hold time is no setup work
    elapsed = _epoch(row["CurrentTime"]) - _epoch(row["StartTime"]) if row.get("CurrentTime") else wall
    response = _seconds(row.get("ResponseTime1(C)", "00:00:00"))
    seconds = max(count / rate, elapsed - hold_ms / 1000 - response)
    return Step(rate, count, successful, failed, seconds, response * 1000)


class Answerer:
    """One sipp answering every call for the called phones (registered with this ``contact``)."""

    def __init__(self, workdir: Path, local_ip: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(local_ip, udp=True)
        self.contact = f"{local_ip}:{self.port}"
        scenario = workdir / "answer.xml"
        scenario.write_text(answer_scenario())
        self.stats = workdir / "answer.stats.csv"
        self.log = (workdir / "answer.log").open("w")
        self.process = subprocess.Popen(
            [SIPP, "-sf", str(scenario), "-i", local_ip, "-p", str(self.port), "-aa", "-nostdin",
             "-trace_stat", "-stf", str(self.stats), "-fd", "1",
             "-trace_err", "-error_file", str(workdir / "answer.errors.log")],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=self.log)

    def answered(self) -> int:
        """Calls answered and ended so far (sipp writes its statistics every second)."""
        if not self.stats.exists() or not self.stats.read_text().strip():
            return 0
        return int(read_stats(self.stats).get("SuccessfulCall(C)", "0"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.log.close()
