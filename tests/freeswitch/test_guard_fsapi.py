"""Issue 10, items 2, 9, 10 and 11 on the real switch: FreeSWITCH started on the project's
``freeswitch/conf`` with the ``freeswitch.env`` that ``hibiki up`` wrote authenticates to /fsapi
(basic auth from ``xml_curl.conf.xml``) and phones register; a password guesser behind a shared
address is blocked for the guessed extension only, while the colleagues behind the same address
and the victim elsewhere still register.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

from support.switch import sipp
from support.switch.bench import SwitchBench


def refused_fsapi_lines(bench: SwitchBench) -> int:
    return sum(1 for line in bench.stack.log("directory").splitlines()
               if '"fsapi_refused"' in line and "basic auth" in line)


def test_freeswitch_with_freeswitch_env_authenticates_and_phones_register(bench: SwitchBench) -> None:
    written = bench.stack.freeswitch_env()
    for name in ("HIBIKI_DIRECTORY_FSAPI_USER", "HIBIKI_DIRECTORY_FSAPI_PASSWORD", "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD",
                 "HIBIKI_DIRECTORY_URL", "HIBIKI_HOST", "HIBIKI_CALLCONTROL_ADDR"):
        assert bench.fs.env[name] == written[name], name      # FreeSWITCH runs with what hibiki up wrote
    bench.tenant("guard")
    ext = bench.extension("guard", "3001")[0]
    before = refused_fsapi_lines(bench)
    registered = bench.sipp_register(ext)
    assert registered.final() == 200, registered.messages
    wrong = bench.sipp_register(ext, password=ext.password + "x", final=403)
    assert wrong.final() == 403, wrong.messages
    # FreeSWITCH sent the credentials: no refusal logged for it, while a client without them is refused
    assert refused_fsapi_lines(bench) == before
    request = urllib.request.Request(f"{bench.stack.directory_url}/fsapi", data=b"section=directory&user=3001",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.urlopen(request, timeout=5)
        status = 200
    except urllib.error.HTTPError as exc:
        status = exc.code
    credentials = f"{written['HIBIKI_DIRECTORY_FSAPI_USER']}:{written['HIBIKI_DIRECTORY_FSAPI_PASSWORD']}"
    request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 200
    print(f"\nreal FreeSWITCH on freeswitch/conf + freeswitch.env: REGISTER {registered.final()}, "
          f"wrong password {wrong.final()}; /fsapi without credentials: HTTP {status}")
    assert status == 401
    # the directory verified the digest itself: the wrong one got no a1-hash
    log = bench.stack.log("directory")
    assert any("the digest does not match the password" in line and "3001" in line for line in log.splitlines())


def test_a_guesser_behind_a_shared_address_blocks_only_the_guessed_extension(bench: SwitchBench) -> None:
    bench.tenant("nat")
    victim = bench.extension("nat", "4001")[0]
    colleague = bench.extension("nat", "4002")[0]
    shared = bench.phone_address()                 # one address for everyone: the city hall's NAT
    work = bench.root / "sipp"
    guesses = 0
    for n in range(10):
        result = sipp.register(work, bench.fs.sip, shared, victim.sip_username, victim.domain, f"guess-{n}", final=403)
        assert result.final() == 403, result.messages
        guesses += 1
    blocked = sipp.register(work, bench.fs.sip, shared, victim.sip_username, victim.domain, victim.password, final=403)
    colleague_ok = sipp.register(work, bench.fs.sip, shared, colleague.sip_username, colleague.domain,
                                 colleague.password)
    elsewhere = bench.sipp_register(victim)        # the victim's own phone at another address
    blocks = bench.directory.get("/api/v1/tenants/nat/auth_blocks")["items"]
    print(f"\nreal switch: wrong REGISTERs before a block: {guesses}; right password from the same address: "
          f"{blocked.final()}; colleague behind it: {colleague_ok.final()}; victim elsewhere: {elsewhere.final()}; "
          f"blocks: {json.dumps([(b['address'], b['username']) for b in blocks])}")
    assert blocked.final() == 403 and colleague_ok.final() == 200 and elsewhere.final() == 200
    assert [(b["address"], b["username"], b["address_wide"]) for b in blocks] == \
        [(shared, f"4001@{victim.domain}", False)]
