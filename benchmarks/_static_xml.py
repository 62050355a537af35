"""The baseline of ``bench freeswitch``: the project's FreeSWITCH configuration answering from
static XML files what Hibiki's directory answers over mod_xml_curl.

The files are written from Hibiki's own answers (asked over ``/fsapi`` as FreeSWITCH asks), so
both switches know the same users with the same ``a1-hash`` and variables and run the same
dialplan actions:

- ``directory/bench.xml``: the tenant's domain with its params and one ``<user>`` per device,
  the params of its ``sip_auth`` answer (``a1-hash``) and of its ``user_call`` answer
  (``dial-string``, voicemail), the variables of the ``sip_auth`` answer;
- ``dialplan/bench.xml``: the callers' context with the ``<extension>`` Hibiki answers for a
  call to each called extension (``condition destination_number ^<ext>$``, the same bridge);
- the ``public`` context's DID extension of the DID -> IVR -> queue -> agent step (``did_context``);
- ``autoload_configs/xml_curl.conf.xml`` bound only to the ``chatplan`` section, which nothing
  loaded asks for (the module loads as in the project's configuration, and refuses to load with
  no binding at all), so it asks nobody.

Everything else (modules, SIP profile, ``switch.conf``, ``vars.xml``) is the project's.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fsemu.xml_curl import XmlCurlClient, XmlCurlResponse, digest_response  # noqa: E402
from support.switch.freeswitch import CONF  # noqa: E402

NO_BINDINGS = ('<configuration name="xml_curl.conf" description="bench freeswitch: static XML">'
               '<bindings><binding name="unused"><param name="gateway-url" value="http://127.0.0.1:9/unused" '
               'bindings="chatplan"/></binding></bindings></configuration>\n')


@dataclass(frozen=True)
class Phone:
    """A device of the bench tenant (its SIP username is its user's extension)."""

    extension: str
    password: str


def _section(answer: XmlCurlResponse, what: str) -> ET.Element:
    if answer.not_found or answer.xml is None:
        raise RuntimeError(f"/fsapi gave no answer for {what}: {answer.status} {answer.body[:200]!r}")
    return answer.xml


async def _sip_auth(client: XmlCurlClient, domain: str, phone: Phone) -> XmlCurlResponse:
    """A ``sip_auth`` lookup with a digest made from the phone's password (the directory returns
    the a1-hash only for a digest that verifies) and no address (a captured request's digest
    would count as wrong passwords against its address, which the directory then blocks)."""
    a1 = hashlib.md5(f"{phone.extension}:{domain}:{phone.password}".encode()).hexdigest()
    nonce, cnonce, nc, uri = "bench-nonce", "bench-cnonce", "00000001", f"sip:{domain}"
    return await client.directory(user=phone.extension, domain=domain, action="sip_auth",
                                  sip_auth_method="REGISTER", ip="", sip_auth_uri=uri, sip_auth_nonce=nonce,
                                  sip_auth_cnonce=cnonce, sip_auth_nc=nc, sip_auth_qop="auth",
                                  sip_auth_response=digest_response(a1, "REGISTER", uri, nonce, qop="auth",
                                                                    nc=nc, cnonce=cnonce))


async def _known(client: XmlCurlClient, domain: str, phone: Phone, timeout: float = 15.0) -> None:
    """Wait until the directory's view has the last device imported (config.applied may be a
    replica's answer to an earlier change)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await _sip_auth(client, domain, phone)).not_found:
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"the directory does not know {phone.extension}@{domain} after {timeout:g} s")
        await asyncio.sleep(0.1)


async def _answers(url: str, domain: str, phones: list[Phone], called: list[str]
                   ) -> tuple[ET.Element, list[ET.Element], list[ET.Element]]:
    client = XmlCurlClient(url, hostname="bench-static")
    await _known(client, domain, phones[-1])
    domain_params: ET.Element | None = None
    users: list[ET.Element] = []
    for phone in phones:
        auth = _section(await _sip_auth(client, domain, phone), f"sip_auth {phone.extension}")
        call = _section(await client.directory(user=phone.extension, domain=domain, action="user_call"),
                        f"user_call {phone.extension}")
        user = auth.find(".//user")
        params, call_params = (user.find("params") if user is not None else None), call.find(".//user/params")
        if user is None or params is None or call_params is None:
            raise RuntimeError(f"/fsapi answered {phone.extension} without a user")
        names = {p.get("name") for p in params}
        params.extend(p for p in call_params if p.get("name") not in names)
        users.append(user)
        domain_params = domain_params if domain_params is not None else auth.find(".//domain/params")
    context, extensions = "", []
    first = users[0].find("variables/variable[@name='user_context']")
    tenant = users[0].find("variables/variable[@name='hibiki_tenant']")
    hibiki_user = users[0].find("variables/variable[@name='hibiki_user']")
    if first is None or tenant is None or hibiki_user is None:
        raise RuntimeError("/fsapi's users carry no user_context, hibiki_tenant or hibiki_user")
    context = first.get("value", "")
    for ext in called:
        plan = _section(await client.dialplan(destination_number=ext, caller_id_number=phones[0].extension,
                                              context=context, variable_hibiki_tenant=tenant.get("value", ""),
                                              variable_hibiki_user=hibiki_user.get("value", "")),
                        f"the dialplan of a call to {ext}")
        extensions += plan.findall(".//context/extension")
    holder = ET.Element("context", name=context)
    holder.extend(extensions)
    return (domain_params if domain_params is not None else ET.Element("params")), users, [holder]


def _write_include(path: Path, elements: list[ET.Element]) -> None:
    """FreeSWITCH's preprocessor drops the lines holding ``<include>`` and ``</include>``: one
    element a line, the wrapper on lines of its own."""
    root = ET.Element("include")
    root.extend(elements)
    ET.indent(root)
    path.write_text(ET.tostring(root, encoding="unicode") + "\n")


def did_context(number: str, greeting: str, agent: str, domain: str) -> ET.Element:
    """The static side of DID -> IVR -> queue -> agent: what callcontrol makes FreeSWITCH do for
    it, without the controller, the ACD and the events: answer, the greeting waiting for 1
    (callcontrol's ``play_and_get_digits``), then a bridge to an agent's phone."""
    context = ET.Element("context", name="public")
    condition = ET.SubElement(ET.SubElement(context, "extension", name="bench-did"), "condition",
                              field="destination_number", expression=f"^{number}$")
    for app, data in (("answer", ""),
                      ("play_and_get_digits", f"1 1 1 5000 none {greeting} silence_stream://250 hibiki_digit ^[1]$ 5000"),
                      ("bridge", f"user/{agent}@{domain}")):
        action = ET.SubElement(condition, "action", application=app)
        if data:
            action.set("data", data)
    return context


def write(dest: Path, fsapi_url: str, domain: str, phones: list[Phone], called: list[str],
          extra: list[ET.Element] | None = None) -> Path:
    """A copy of ``freeswitch/conf`` at ``dest`` answering from files what ``fsapi_url`` answers
    (plus the ``extra`` dialplan contexts)."""
    params, users, contexts = asyncio.run(_answers(fsapi_url, domain, phones, called))
    contexts += extra or []
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(CONF, dest)
    (dest / "autoload_configs" / "xml_curl.conf.xml").write_text(NO_BINDINGS)
    domain_el = ET.Element("domain", name=domain)
    domain_el.append(params)
    group = ET.SubElement(ET.SubElement(ET.SubElement(domain_el, "groups"), "group", name="default"), "users")
    group.extend(users)
    _write_include(dest / "directory" / "bench.xml", [domain_el])
    _write_include(dest / "dialplan" / "bench.xml", contexts)
    return dest
