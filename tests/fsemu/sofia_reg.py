"""mod_sofia registrations: REGISTER handling and the ``sofia_contact`` lookup.

Sources (v1.10.12): src/mod/endpoints/mod_sofia/sofia_reg.c ``sofia_reg_handle_register_token``
(contact string, expiry, NAT marks, sip-force-* variables, multiple registrations, the
sofia::register / unregister / pre_register / register_attempt / register_failure events, the
200 OK contacts) and ``sofia_reg_parse_auth`` (the ``action=sip_auth`` directory request and its
field order, nonce check, ``inbound-reg-force-matching-username``, the user's params:
``a1-hash``, ``password``, ``allow-empty-password``, ``sip-forbid-register``, ``auth-acl``,
``user-agent-filter``, ``max-registrations-per-extension``, ``mwi-account``; the digest; the
variables kept with the registration: ``sip-*`` params and every user variable),
``sofia_reg_auth_challenge`` (nonce = a new UUID, kept nonce-ttl + 32 s);
src/mod/endpoints/mod_sofia/mod_sofia.c ``sofia_contact_function`` / ``select_from_profile`` /
``contact_callback``; sofia_glue.c ``sofia_glue_get_url_from_contact``, ``sofia_glue_strip_proto``.

The emulator plays both sides of a REGISTER: the phone's first request is challenged (401 with a
fresh nonce), the phone answers with the digest computed from its password, and FreeSWITCH's
checks decide 200, 401 (stale nonce) or 403.  No SIP goes on the wire.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from .dialstring import switch_false, switch_true
from .directory import Directory, DirectoryRequest
from .urlencode import url_encode
from .xml_curl import DirectoryUser, digest_response

if TYPE_CHECKING:
    from .core import Switch

__all__ = ["SofiaProfile", "Registration", "RegisterResult", "Registrar", "url_from_contact", "strip_proto"]

log = logging.getLogger("fsemu")
_T1X64 = 32          # profile->timer_t1x64 / 1000 (T1 = 500 ms)
_ACL_LISTS = {"loopback.auto": ["127.0.0.0/8", "::1/128"],
              "localnet.auto": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
              "rfc1918.auto": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}


@dataclass
class SofiaProfile:
    """The settings of the SIP profile that REGISTER handling reads.  Defaults: the profile of
    Hibiki's FreeSWITCH configuration (freeswitch/conf/sip_profiles/internal.xml)."""

    name: str = "internal"
    #: ``multiple-registrations``: "contact" (or true), "call-id", or False
    multiple_registrations: str | bool = "contact"
    inbound_reg_force_matching_username: bool = True
    #: ``challenge-realm``: "auto_to", "auto_from" or a fixed realm
    challenge_realm: str = "auto_from"
    force_register_domain: str | None = None        # profile->reg_domain
    force_register_db_domain: str | None = None     # profile->reg_db_domain
    nonce_ttl: int = 60
    sip_expires_late_margin: int = 60
    sip_force_expires: int = 0
    sip_force_expires_min: int = 0
    sip_force_expires_max: int = 0
    user_agent_filter: str | None = None
    max_registrations_per_extension: int = 0
    presence_hosts: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def multireg(self) -> bool:
        return self.multiple_registrations is True or (
            isinstance(self.multiple_registrations, str) and (
                self.multiple_registrations.lower() in ("contact", "call-id") or switch_true(self.multiple_registrations)))

    @property
    def multireg_contact(self) -> bool:
        return self.multireg and not (isinstance(self.multiple_registrations, str)
                                      and self.multiple_registrations.lower() == "call-id")


@dataclass
class Registration:
    """One row of sip_registrations."""

    call_id: str
    sip_user: str
    sip_host: str
    contact: str            # the stored contact string: '"display" <sip:user@host:port;params>'
    status: str             # Registered(UDP), Registered(TCP-NAT), ...
    expires: int            # epoch seconds: registration time + expires + sip-expires-late-margin
    user_agent: str
    network_ip: str
    network_port: str
    sip_username: str
    sip_realm: str
    profile_name: str
    transport: str
    variables: dict[str, str] = field(default_factory=dict)
    url: str = ""           # what switch_core_add_registration records

    @property
    def endpoint(self) -> str:
        """How sofia_contact dials it: ``sofia/<profile>/sip:<contact url without scheme>``."""
        return f"sofia/{self.profile_name}/sip:{strip_proto(url_from_contact(self.contact))}"


@dataclass
class RegisterResult:
    status: int                          # 200, 401 or 403
    reason: str
    auth_result: str | None = None       # SUCCESS, RENEWED, STALE, FORBIDDEN (sofia::register_attempt)
    registration: Registration | None = None
    user: DirectoryUser | None = None
    request: DirectoryRequest | None = None   # the sip_auth lookup (None when none was made)
    contacts: list[str] = field(default_factory=list)   # Contact headers of the 200 OK

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def rejected(self) -> bool:
        return self.status == 403


@dataclass
class _Contact:
    display: str | None
    scheme: str
    user: str
    host: str
    port: str | None
    params: str | None


def _parse_contact(text: str) -> _Contact:
    display = None
    uri = text.strip()
    if "<" in uri:
        display = uri[:uri.index("<")].strip() or None
        uri = uri[uri.index("<") + 1:uri.index(">") if ">" in uri else len(uri)]
    scheme, _, rest = uri.partition(":")
    rest = rest.split("?", 1)[0]
    hostpart, _, params = rest.partition(";")
    user, _, hostport = hostpart.rpartition("@")
    if hostport.startswith("["):
        host, _, after = hostport.partition("]")
        host += "]"
        port = after[1:] if after.startswith(":") else None
    else:
        host, _, port_s = hostport.partition(":")
        port = port_s or None
    return _Contact(display, scheme.lower() or "sip", user, host, port, params or None)


def url_from_contact(contact: str) -> str:
    """sofia_glue_get_url_from_contact: what is inside <..> (after a quoted display name)."""
    buf = contact.lstrip(" ")
    if buf.startswith('"'):
        close = buf.find('"', 1)
        if close != -1:
            buf = buf[close + 1:]
    buf = buf.lstrip(" ")
    lt = buf.find("<")
    if lt != -1:
        gt = buf.find(">", lt)
        if gt != -1:
            return buf[lt + 1:gt]
        return buf[1:]
    return buf


def strip_proto(uri: str) -> str:
    """sofia_glue_strip_proto: everything after the first ``:``."""
    return uri.split(":", 1)[1] if ":" in uri else uri


def _acl_allows(ip: str, acl: str) -> bool:
    """switch_check_network_list_ip for CIDR lists and the built-in ``*.auto`` lists (named
    lists of acl.conf.xml are not known here: they allow nothing)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for item in acl.split(","):
        item = item.strip()
        for cidr in _ACL_LISTS.get(item.lower(), [item] if "/" in item or _is_ip(item) else []):
            try:
                if addr in ipaddress.ip_network(cidr, strict=False):
                    return True
            except ValueError:
                continue
    return False


def _is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


@dataclass
class _Nonce:
    expires: int
    last_nc: int = 0


class Registrar:
    """sip_registrations and sip_authentication of one profile, and what reads them."""

    def __init__(self, switch: "Switch", directory: Directory, profile: SofiaProfile | None = None,
                 global_vars: dict[str, str] | None = None) -> None:
        self.switch = switch
        self.directory = directory
        self.profile = profile or SofiaProfile()
        self.global_vars = global_vars if global_vars is not None else {}
        self.rows: list[Registration] = []
        self.nonces: dict[str, _Nonce] = {}

    # ---- time ----------------------------------------------------------------------------
    def now(self) -> int:
        return self.switch.clock() // 1_000_000

    def registrations(self) -> list[Registration]:
        """The live rows (sofia_reg_check_expire deletes those whose expiry has passed)."""
        now = self.now()
        self.rows = [r for r in self.rows if r.expires > now]
        return list(self.rows)

    # ---- events --------------------------------------------------------------------------
    def _fire(self, subclass: str, line: int, headers: Sequence[tuple[str, str | None]],
              merge: dict[str, str] | None = None) -> None:
        ev = self.switch.new_event("CUSTOM", ("sofia_reg.c", "sofia_reg_handle_register_token", line))
        ev.subclass = subclass
        ev.add("Event-Subclass", subclass)
        for k, v in headers:
            if v:
                ev.add(k, v)
        for k, v in (merge or {}).items():
            ev.add(k, v)
        self.switch.fire(ev)

    # ---- REGISTER --------------------------------------------------------------------------
    async def register(self, user: str, domain: str, password: str | None = None, *,
                       device_contact: str | None = None, network_ip: str = "127.0.0.1",
                       network_port: int | None = None, expires: int | None = 3600,
                       user_agent: str | None = None, call_id: str | None = None,
                       auth_username: str | None = None, realm: str | None = None, nonce: str | None = None,
                       cnonce: str | None = None, nc: str = "00000001", qop: str | None = "auth",
                       request_uri: str | None = None, transport: str = "udp", response: str | None = None,
                       a1_hash: str | None = None, to_user: str | None = None, nat: bool = False,
                       x_headers: dict[str, str] | None = None) -> RegisterResult:
        """A phone registers ``user@domain`` (To and From) with ``device_contact``
        (``sip:user@host:port;params``, default ``sip:<user>@<network_ip>:<network_port>``) from
        ``network_ip:network_port``; ``expires=0`` unregisters.  The phone answers the
        challenge with ``password`` (or ``a1_hash``, or a given ``response``)."""
        prof = self.profile
        contact = _parse_contact(device_contact or f"sip:{user}@{network_ip}:{network_port or 5060}")
        port = network_port if network_port is not None else int(contact.port or 5060)
        to_user = to_user or user
        to_host = from_host = domain
        from_user = user
        reg_host = prof.force_register_db_domain or to_host
        call_id = call_id or secrets.token_hex(8)
        agent = user_agent or "unknown"
        transport = transport.lower()
        is_ws, is_wss = transport == "ws", transport == "wss"
        is_nat = "ws" if is_ws else "wss" if is_wss else ("yes" if nat else None)
        uparams = contact.params
        is_tls = (1 if uparams and "transport=tls" in uparams.lower() else 0) + (2 if contact.scheme == "sips" else 0)
        is_tcp = bool(uparams and "transport=tcp" in uparams.lower())
        proto = "sips" if contact.scheme == "sips" else "sip"
        url_ip = f"[{network_ip}]" if ":" in network_ip else network_ip
        if is_wss and uparams and "transport=ws" in uparams.lower() and "transport=wss" not in uparams.lower():
            uparams = re.sub("transport=ws", "transport=wss", uparams, flags=re.I)
        exptime = 300
        if is_nat:
            reg_desc = ("Registered(TLS-NAT)" if is_tls else "Registered(TCP-NAT)" if is_tcp else
                        "Registered(WS-NAT)" if is_ws else "Registered(WSS-NAT)" if is_wss else "Registered(UDP-NAT)")
        else:
            reg_desc = "Registered(TLS)" if is_tls else "Registered(TCP)" if is_tcp else "Registered(UDP)"
        display = contact.display or '""'
        if '"' not in display:
            display = f'"{display}"'
        path = ""
        if is_nat:
            mine = f"{proto}:{contact.user}@{url_ip}:{port}" + (f";{uparams}" if uparams else "")
            path = ";fs_path=" + url_encode(mine)
            exptime = 30
        new_port = f":{contact.port}" if contact.port else ""
        nat_mark = ";fs_nat=yes" if is_nat else ""
        if uparams:
            contact_str = f"{display} <{proto}:{contact.user}@{contact.host}{new_port};{uparams}{nat_mark}{path}>"
        else:
            contact_str = f"{display} <{proto}:{contact.user}@{contact.host}{new_port}{nat_mark}{path}>"
        if expires is not None:
            exptime = expires
        common = [("profile-name", prof.name), ("from-user", to_user), ("from-host", reg_host),
                  ("contact", contact_str), ("call-id", call_id), ("rpid", "unknown"), ("status", reg_desc),
                  ("expires", str(exptime)), ("to-user", from_user), ("to-host", from_host),
                  ("network-ip", network_ip), ("network-port", str(port))]

        # 1. the REGISTER without credentials is challenged (sofia_reg_auth_challenge)
        self._fire("sofia::pre_register", 1810, common + [("user-agent", agent)])
        challenge = prof.challenge_realm
        if not challenge or challenge.lower() == "auto_to":
            challenge = to_host
        elif challenge.lower() == "auto_from":
            challenge = from_host
        now = self.now()
        nonce = nonce or str(uuidlib.uuid4())
        if nonce not in self.nonces:
            self.nonces[nonce] = _Nonce(now + (prof.nonce_ttl or 60) + _T1X64)

        # 2. the phone answers the challenge
        username = auth_username or user
        auth_realm = realm or challenge
        uri = request_uri or f"sip:{domain}"
        if qop:
            cnonce = cnonce or secrets.token_hex(8)
        if response is None:
            a1 = a1_hash or hashlib.md5(f"{username}:{auth_realm}:{password or ''}".encode()).hexdigest()
            response = digest_response(a1, "REGISTER", uri, nonce, qop=qop, nc=nc if qop else "",
                                       cnonce=cnonce or "" if qop else "")
        request = _Request(username=username, realm=auth_realm, nonce=nonce, uri=uri, response=response,
                           qop=qop, cnonce=cnonce if qop else None, nc=nc if qop else None, agent=agent,
                           contact=contact, to_user=to_user, to_host=to_host, from_user=from_user,
                           from_host=from_host, call_id=call_id, request_uri=uri, transport=transport,
                           network_ip=network_ip, port=port, exptime=exptime, x_headers=x_headers or {})
        auth, user_rec, v_event, lookup = await self._parse_auth(request)
        result = RegisterResult(401, "Unauthorized", auth, None, user_rec, lookup)
        self._fire("sofia::register_attempt", 1606,
                   common + [("username", username), ("realm", auth_realm), ("user-agent", agent),
                             ("auth-result", auth)])

        if v_event is not None and exptime:
            allow = v_event.get("sip-allow-multiple-registrations")
            avoid_multi = allow is not None and switch_false(allow)
            if v_event.get("sip-force-user"):
                to_user = v_event["sip-force-user"]
            forced = v_event.get("sip-force-contact")
            if forced:
                if forced.lower() == "ndlb-connectile-dysfunction-2.0":
                    mine = f"{proto}:{contact.user}@{url_ip}:{port}"
                    if "fs_path=" not in contact_str.lower():
                        contact_str = contact_str[:-1] + ";fs_nat=yes;fs_path=" + url_encode(mine) + ">"
                        reg_desc, exptime = "Registered(AUTO-NAT-2.0)", 30
                elif forced.lower() in ("nat-connectile-dysfunction", "ndlb-connectile-dysfunction",
                                        "ndlb-tls-connectile-dysfunction"):
                    extra = f";{uparams}" if uparams else ""
                    contact_str = f"{display} <{proto}:{contact.user}@{url_ip}:{port}{extra};fs_nat=yes>"
                    if "transport=tls" in forced.lower():
                        reg_desc = "Registered(TLSHACK)"
                    else:
                        reg_desc, exptime = "Registered(AUTO-NAT)", 30
                else:
                    contact_str = re.sub(r"['\[\]]", '"', forced)
            for key, attr, cmp in (("sip-force-expires-min", "sip_force_expires_min", "min"),
                                   ("sip-force-expires-max", "sip_force_expires_max", "max"),
                                   ("sip-force-expires", "sip_force_expires", "set")):
                value = _atoi(v_event.get(key, "")) or getattr(prof, attr)
                if value > 0 and (cmp == "set" or (cmp == "min" and exptime < value) or (cmp == "max" and exptime > value)):
                    exptime = value
        else:
            avoid_multi = False

        if auth not in ("SUCCESS", "RENEWED"):
            if auth == "FORBIDDEN":
                result.status, result.reason = 403, "Forbidden"
                self._fire("sofia::register_failure", 1792,
                           [("profile-name", prof.name), ("to-user", to_user), ("to-host", to_host),
                            ("network-ip", network_ip), ("user-agent", agent), ("profile-name", prof.name),
                            ("network-port", str(port)), ("registration-type", "REGISTER")])
            else:  # stale: challenged again
                self._fire("sofia::pre_register", 1810, common + [("user-agent", agent)])
            return result

        v = v_event or {}
        if v.get("sip-force-extension"):
            to_user = v["sip-force-extension"]
        multi = prof.multireg and not avoid_multi
        multi_contact = multi and prof.multireg_contact
        reg_time = self.now()
        live = self.registrations()
        if exptime:
            expires_at = reg_time + exptime + prof.sip_expires_late_margin
            update = False
            if auth != "RENEWED" or not multi:
                self._delete(to_user, reg_host, contact_str, call_id, multi, multi_contact)
            else:
                update = any(r.sip_user == to_user and r.sip_username == username and r.sip_host == reg_host
                             and r.contact == contact_str for r in live)
            url = f"sofia/{prof.name}/{proto}:{strip_proto(url_from_contact(contact_str))}"
            transport_name = "tls" if is_tls else "tcp" if is_tcp else "udp"
            if update:
                row = next(r for r in self.rows if r.sip_user == to_user and r.sip_username == username
                           and r.sip_host == reg_host and r.contact == contact_str)
                row.call_id, row.network_ip, row.network_port, row.expires = call_id, network_ip, str(port), expires_at
            else:
                row = Registration(call_id, to_user, reg_host, contact_str, reg_desc, expires_at, agent, network_ip,
                                   str(port), username, auth_realm, prof.name, transport_name, dict(v), url)
                self.rows.append(row)
            if multi:
                self.rows = [r for r in self.rows if r is row or not (
                    (r.contact == contact_str) if multi_contact else (r.call_id == call_id))]
            result.registration = row
            self._fire("sofia::register", 2059,
                       [("profile-name", prof.name), ("from-user", to_user), ("from-host", reg_host),
                        ("presence-hosts", prof.presence_hosts or "n/a"), ("contact", contact_str),
                        ("call-id", call_id), ("rpid", "unknown"), ("status", reg_desc), ("expires", str(exptime)),
                        ("to-user", from_user), ("to-host", from_host), ("network-ip", network_ip),
                        ("network-port", str(port)), ("username", username), ("realm", auth_realm),
                        ("user-agent", agent), ("update-reg", "true" if update else None)], merge=v)
        else:
            self._delete(to_user, reg_host, contact_str, call_id, multi, multi_contact)
            self._fire("sofia::unregister", 2213,
                       [("profile-name", prof.name), ("username", username), ("from-user", to_user),
                        ("from-host", reg_host), ("contact", contact_str), ("call-id", call_id), ("rpid", "unknown"),
                        ("realm", auth_realm), ("network-ip", network_ip), ("network-port", str(port)),
                        ("user-agent", agent), ("expires", str(exptime))], merge=v)
        result.status, result.reason = 200, "OK"
        for r in self.registrations():   # sofia_reg_find_reg_url_with_positive_expires_multi
            if r.sip_user != from_user or r.sip_host != reg_host:
                continue
            left = exptime if r.contact.lower() == contact_str.lower() else r.expires - 60 - reg_time
            if left > 0:
                result.contacts.append(f"<{url_from_contact(r.contact)}>;expires={left}")
        return result

    def _delete(self, sip_user: str, sip_host: str, contact: str, call_id: str, multi: bool,
                multi_contact: bool) -> None:
        """The ``delete from sip_registrations`` of a (un)REGISTER: by user, host and contact
        (multiple-registrations=contact), by Call-ID (=call-id), else every row of the user."""
        def goes(r: Registration) -> bool:
            if not multi:
                return r.sip_user == sip_user and r.sip_host == sip_host
            if multi_contact:
                return r.sip_user == sip_user and r.sip_host == sip_host and r.contact == contact
            return r.call_id == call_id
        self.rows = [r for r in self.rows if not goes(r)]

    async def _parse_auth(self, rq: "_Request") -> tuple[str, DirectoryUser | None, dict[str, str] | None,
                                                         DirectoryRequest | None]:
        """sofia_reg_parse_auth: (auth result, user, variables kept on success, lookup made)."""
        prof = self.profile
        username = rq.username
        if prof.inbound_reg_force_matching_username and (
                not username or not rq.to_user or rq.to_user.lower() != username.lower()):
            return "FORBIDDEN", None, None, None
        now = self.now()
        for key in [k for k, n in self.nonces.items() if n.expires <= now]:
            del self.nonces[key]
        entry = self.nonces.get(rq.nonce)
        nc_value = int(rq.nc, 16) if rq.nc else 0
        if entry is None or (rq.nc and entry.last_nc >= nc_value):
            self.nonces.pop(rq.nonce, None)
            return "STALE", None, None, None
        params: list[tuple[str, str]] = [
            ("action", "sip_auth"), ("sip_profile", prof.name), ("sip_user_agent", rq.agent),
            ("sip_auth_username", username), ("sip_auth_realm", rq.realm), ("sip_auth_nonce", rq.nonce),
            ("sip_auth_uri", rq.uri), ("sip_contact_user", rq.contact.user), ("sip_contact_host", rq.contact.host),
            ("sip_to_user", rq.to_user), ("sip_to_host", rq.to_host), ("sip_via_protocol", rq.transport),
            ("sip_from_user", rq.from_user), ("sip_from_host", rq.from_host), ("sip_call_id", rq.call_id)]
        ruri = _parse_contact(rq.request_uri)
        if ruri.user:
            params.append(("sip_request_user", ruri.user))
        params.append(("sip_request_host", ruri.host))
        if ruri.port:
            params.append(("sip_request_port", ruri.port))
        params += [(k, v) for k, v in rq.x_headers.items() if k.lower().startswith("x-") and v]
        if rq.qop:
            params.append(("sip_auth_qop", rq.qop))
        if rq.cnonce:
            params.append(("sip_auth_cnonce", rq.cnonce))
        if rq.nc:
            params.append(("sip_auth_nc", rq.nc))
        params += [("sip_auth_response", rq.response), ("sip_auth_method", "REGISTER"), ("client_port", str(rq.port))]
        domain_name = prof.force_register_domain or rq.realm
        user = await self.directory.locate_user_merged("id", username or "nobody", domain_name, rq.network_ip,
                                                       params, kind="sip_auth")
        lookup = self.directory.requests[-1] if self.directory.requests else None
        if user is None:
            log.warning("Can't find user [%s@%s] from %s", username, domain_name, rq.network_ip)
            return "FORBIDDEN", None, None, lookup
        if (user.attributes.get("type") or "").lower() == "pointer":
            return "FORBIDDEN", user, None, lookup
        number_alias = user.attributes.get("number-alias") or username or "nobody"
        passwd = a1 = mwi = auth_acl = None
        allow_empty = True
        ua_filter = prof.user_agent_filter
        max_regs = prof.max_registrations_per_extension
        for name, val in user.params.items():
            low = name.lower()
            if low == "sip-forbid-register" and switch_true(val):
                return "FORBIDDEN", user, None, lookup
            if low == "password":
                passwd = val
            elif low == "auth-acl":
                auth_acl = val
            elif low == "a1-hash":
                a1 = val
            elif low == "mwi-account":
                mwi = val
            elif low == "allow-empty-password":
                allow_empty = switch_true(val)
            elif low == "user-agent-filter":
                ua_filter = val
            elif low == "max-registrations-per-extension":
                max_regs = _atoi(val)
        if auth_acl and not _acl_allows(rq.network_ip, auth_acl):
            return "FORBIDDEN", user, None, lookup   # no proxy ACLs in the emulated profile
        result = "SUCCESS"
        if not allow_empty and not passwd and not a1:
            return "FORBIDDEN", user, None, lookup
        if passwd or a1:
            if not a1:
                a1 = hashlib.md5(f"{username}:{rq.realm}:{passwd}".encode()).hexdigest()
            if ua_filter and not re.search(ua_filter, rq.agent):
                return "FORBIDDEN", user, None, lookup
            if max_regs > 0 and rq.exptime:
                count = sum(1 for r in self.registrations()
                            if r.sip_user == rq.to_user and r.call_id != rq.call_id and r.sip_host == domain_name)
                if count + 1 > max_regs:
                    return "FORBIDDEN", user, None, lookup
            expected = digest_response(a1, "REGISTER", rq.uri, rq.nonce, qop=rq.qop if (rq.nc and rq.cnonce) else None,
                                       nc=rq.nc or "", cnonce=rq.cnonce or "")
            if expected.lower() != (rq.response or "").lower():
                return "FORBIDDEN", user, None, lookup
        v_event: dict[str, str] = {}
        for k, v in (("sip_number_alias", number_alias), ("sip_auth_username", username),
                     ("sip_auth_realm", rq.realm), ("number_alias", number_alias), ("user_name", username),
                     ("domain_name", domain_name), ("mwi-account", mwi)):
            if v:
                v_event.pop(k, None)
                v_event[k] = v
        for name, val in user.params.items():
            if name and val and (name.lower().startswith("sip-") or name.lower() == "register-gateway"):
                v_event.pop(name, None)
                v_event[name] = val
        for name, val in user.variables.items():
            if name and val:
                v_event.pop(name, None)
                v_event[name] = val
        if rq.nc and rq.cnonce and rq.qop:
            result = "RENEWED"
        if rq.nc:
            entry.last_nc = nc_value
        return result, user, v_event, lookup

    # ---- sofia_contact -----------------------------------------------------------------------
    def _find_profile(self, name: str | None) -> SofiaProfile | None:
        if name and (name == self.profile.name or name in self.profile.aliases):
            return self.profile
        return None

    def _select(self, profile: SofiaProfile, user: str, domain: str, concat: str | None, exclude: str | None,
                match_ua: str | None, dedup: bool, out: list[str]) -> None:
        for r in self.registrations():
            if r.profile_name != profile.name or r.sip_user.upper() != user.upper():
                continue
            if not (r.sip_host == domain or (profile.presence_hosts and domain.lower() in profile.presence_hosts.lower())):
                continue
            if match_ua and match_ua.lower() not in r.user_agent.lower():
                continue
            if exclude and exclude.lower() in r.contact.lower():
                continue
            item = f"{concat or ''}sofia/{r.profile_name}/sip:{strip_proto(url_from_contact(r.contact))}"
            if dedup and item in "".join(out):
                continue
            out.append(item + ",")

    def sofia_contact(self, cmd: str | None, channel_vars: dict[str, str] | None = None) -> str:
        """The ``sofia_contact [profile/]<user>@<domain>`` API (``*/`` = every profile):
        ``sofia/<profile>/sip:...`` per registration, comma separated, or
        ``error/user_not_registered``."""
        if not cmd:
            return ""
        exclude = match_ua = None
        if channel_vars is not None:
            exclude = channel_vars.get("sip_exclude_contact")
            match_ua = channel_vars.get("sip_match_user_agent")
        data = cmd
        profile_name: str | None = None
        if "~" in data:
            data, _, match_ua = data.partition("~")
            profile_name = data
        if "/" in data:
            profile_name, _, user = data.partition("/")
        else:
            user = data
        domain: str | None = None
        concat: str | None = None
        if "@" in user:
            user, _, domain = user.partition("@")
            if "/" in domain:
                domain, _, concat = domain.partition("/")
        elif "/" in user:
            user, _, concat = user.partition("/")
        if not domain:
            domain = self.global_vars.get("domain") or "freeswitch.local"   # switch_core_get_domain
        profile: SofiaProfile | None = None
        if not profile_name or profile_name != "*" or not domain:
            if profile_name:
                profile = self._find_profile(profile_name)
            if profile is None and domain:
                profile = self._find_profile(domain)
        out: list[str] = []
        if profile is not None:
            self._select(profile, user, domain, concat, exclude, match_ua, False, out)
        elif domain:
            self._select(self.profile, user, domain, concat, exclude, match_ua, True, out)
        reply = "".join(out)
        if not reply:
            return "error/user_not_registered"
        return reply[:-1] if reply.endswith(",") else reply


@dataclass
class _Request:
    """The authorized REGISTER as sofia_reg_parse_auth sees it."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str | None
    cnonce: str | None
    nc: str | None
    agent: str
    contact: _Contact
    to_user: str
    to_host: str
    from_user: str
    from_host: str
    call_id: str
    request_uri: str
    transport: str
    network_ip: str
    port: int
    exptime: int
    x_headers: dict[str, str]


def _atoi(s: str) -> int:
    digits = ""
    for ch in s.strip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0
