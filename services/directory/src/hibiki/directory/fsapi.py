"""Answering FreeSWITCH: from a parsed request and the view to an XML document.

Fails closed: an unknown domain, user or device, a disabled device, or a request we do
not serve is the "not found" document, with the reason logged.

Secrets go to an authenticated FreeSWITCH only (``trusted``: it sent the /fsapi credentials):
- ``sip_auth`` returns a device's ``a1-hash`` only when the request's digest already verifies
  against it (to anyone: whoever computed that digest knows the password);
- carrier gateways (their passwords) and voicemail PINs only when ``trusted``;
- ``ip`` (what the password guard counts) and ``variable_hibiki_tenant`` (whose dialplan a call
  gets) are believed only when ``trusted``, and the ``variable_hibiki_user`` claimed must be a
  user of that tenant.

Directory lookups (``section=directory``):
- ``sip_auth`` (REGISTER, INVITE): the *device* named by its SIP username, with its
  ``a1-hash`` and the variables of the user it belongs to;
- ``user_call`` (``bridge user/<ext>@<domain>``): the *user* by extension or username, whose
  ``dial-string`` rings every device of the user at once;
- ``message-count``, ``voicemail-lookup`` and plain lookups: the user, with its voicemail PIN.
- ``purpose=gateways`` (a sofia profile starts or rescans): its carrier gateways, see gateways.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hibiki.common import dialstring
from hibiki.directory import dialplan, documents, gateways
from hibiki.directory.guard import AuthGuard, Block, digest_matches, username
from hibiki.directory.numbers import InvalidNumber, classify
from hibiki.directory.view import DirectoryView, TenantView, UserEntry
from hibiki.directory.xmlcurl import FsRequest

USER_LOOKUPS = frozenset({"", "user_call", "message-count", "voicemail-lookup"})
DIAL_PREFIX = "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
# The domain-level dial string of FreeSWITCH's vanilla directory (and of the served capture);
# a user's own dial-string param (every device of the user) takes precedence over it.
DOMAIN_PARAMS = {"dial-string": DIAL_PREFIX + "${sofia_contact(*/${dialed_user}@${dialed_domain})}"}


@dataclass(frozen=True)
class Answer:
    document: str
    outcome: str          # "found" or "not_found"
    reason: str = ""
    tenant: str = ""
    block: Block | None = None   # the address this answer got blocked (to announce)


CARRIER_CONTEXT = "public"    # sip_profiles/internal.xml: calls trusted by address (carriers) run here
MAX_CACHED_ANSWERS = 20_000   # per tenant version; rendered again after a clear


def _remember(tenant: TenantView, key: tuple[str, ...], document: str) -> str:
    if len(tenant.answers) >= MAX_CACHED_ANSWERS:
        tenant.answers.clear()
    tenant.answers[key] = document
    return document


def not_found(reason: str, tenant: str = "") -> Answer:
    return Answer(documents.NOT_FOUND, "not_found", reason, tenant)


def answer(request: FsRequest, view: DirectoryView, guard: AuthGuard | None = None,
           now: datetime | None = None, callcontrol: str = "127.0.0.1:8084", *, trusted: bool) -> Answer:
    if request.section == "directory":
        if request.action == "sip_auth":
            return _sip_auth(request, view, guard if trusted else None)
        if not trusted and request.get("purpose") == "gateways":
            return not_found("carrier gateways (their passwords) are served to an authenticated FreeSWITCH only")
        return _directory(request, view, secrets=trusted)
    if request.section == "dialplan":
        refusal = claim_refusal(request, view, trusted)
        if refusal is not None:
            return not_found(refusal, request.get("variable_hibiki_tenant"))
        return _dialplan(request, view, now or datetime.now(UTC), callcontrol)
    return not_found(f"section {request.section!r} is not served")


def claim_refusal(request: FsRequest, view: DirectoryView, trusted: bool) -> str | None:
    """Why the tenant (and user) a dialplan request claims cannot be believed; None when it can."""
    tenant_id = request.get("variable_hibiki_tenant")
    if not tenant_id:
        return None
    if not trusted:
        return "variable_hibiki_tenant is believed from an authenticated FreeSWITCH only"
    user_id = request.get("variable_hibiki_user")
    tenant = view.by_id(tenant_id)
    if user_id and tenant is not None and user_id not in tenant.users:
        return f"user {user_id[:64]!r} is not a user of tenant {tenant_id[:64]!r}"
    return None


def _dialplan(request: FsRequest, view: DirectoryView, now: datetime, callcontrol: str) -> Answer:
    destination = request.get("Caller-Destination-Number")
    if not destination:
        return not_found("dialplan request without Caller-Destination-Number")
    tenant_id = request.get("variable_hibiki_tenant")
    if not tenant_id:
        try:
            number = classify(destination).destination
        except InvalidNumber as exc:
            return not_found(f"inbound call to an unusable number: {exc}")
        found = view.did(number)
        if found is None:
            reason = f"inbound call to {number}, which is no tenant's number"
            return _refused(reason) if request.get("Caller-Context") == CARRIER_CONTEXT else not_found(reason)
        owner, did = found
        decision = did.route_at(now)   # the answer depends on the number, the context and this branch only
        key: tuple[str, ...] = ("did", destination, request.get("Caller-Context"), decision[1])
        document = owner.answers.get(key)
        if document is None:
            document = _remember(owner, key, dialplan.answer_did(request, owner, did, now, callcontrol, decision))
        return Answer(document, "found", "", owner.tenant_id)
    tenant = view.by_id(tenant_id)
    if tenant is None:
        return not_found(f"tenant {tenant_id!r} of the caller is unknown", tenant_id)
    if destination in tenant.extensions or destination in tenant.group_extensions:
        # a user or ring group of the tenant: the same for every caller (forwarding hops aside)
        key = ("dialplan", request.get("Caller-Context"), destination, request.get("variable_hibiki_forward_hops"))
    else:
        key = ("dialplan", request.get("Caller-Context"), destination, request.get("variable_hibiki_user"),
               request.get("variable_hibiki_forward_hops"), request.get("variable_hibiki_transferor"),
               request.get("variable_hibiki_route_grant"), request.get("variable_hibiki_handoff"),
               request.get("variable_hibiki_did"))
    document = tenant.answers.get(key)
    if document is None:
        document = _remember(tenant, key, dialplan.answer_internal(request, tenant, callcontrol))
    return Answer(document, "found", "", tenant.tenant_id)


def _refused(reason: str) -> Answer:
    """A carrier's call for no tenant's number is refused here (SIP 404), not left to FreeSWITCH's
    survival routing (dialplan/fallback.xml), which would ring the survival destination."""
    return Answer(dialplan.refuse_unknown_number(CARRIER_CONTEXT), "not_found", reason)


def _directory(request: FsRequest, view: DirectoryView, secrets: bool = False) -> Answer:
    purpose = request.get("purpose")
    if purpose == "gateways":   # carrier gateways for a sofia profile: gateways.py
        return Answer(*gateways.serve(request, view))
    if purpose == "network-list":
        return not_found("purpose 'network-list': no network lists configured")
    if request.action == "group_call":
        return _group_call(request, view)
    if request.action != "sip_auth" and request.action not in USER_LOOKUPS:
        return not_found(f"directory action {request.action!r} is not served")
    domain, name = request.domain, request.user
    if not domain or not name:
        return not_found("directory lookup without user and domain")
    tenant = view.tenant(domain)
    if tenant is None:
        return not_found(f"domain {domain!r} is not a tenant")
    if request.action == "sip_auth":
        key = ("auth", name)
        cached = tenant.answers.get(key)
        if cached is not None:
            return Answer(cached, "found", "", tenant.tenant_id)
        found = tenant.device(name)
        if found is None:
            return not_found(f"device {name!r} is not in {domain!r} (or is disabled)", tenant.tenant_id)
        device, user = found
        document = documents.directory_user(tenant.domain, device.sip_username, {"a1-hash": device.a1_hash},
                                            _variables(tenant, user), DOMAIN_PARAMS)
        _remember(tenant, key, document)
        return Answer(document, "found", "", tenant.tenant_id)
    key = ("user" if secrets else "user-public", name)
    cached = tenant.answers.get(key)
    if cached is not None:
        return Answer(cached, "found", "", tenant.tenant_id)
    owner = tenant.device(name)
    target = tenant.user_by_number(name) or (owner[1] if owner else None)
    if target is None:
        return not_found(f"user {name!r} is not in {domain!r}", tenant.tenant_id)
    params = {"dial-string": dial_string(tenant, target)}
    if target.voicemail_enabled and secrets:   # the PIN: to an authenticated FreeSWITCH only
        params["vm-password"] = target.voicemail_pin
    params["vm-enabled"] = "true" if target.voicemail_enabled else "false"
    document = documents.directory_user(tenant.domain, name, params, _variables(tenant, target), DOMAIN_PARAMS)
    _remember(tenant, key, document)
    return Answer(document, "found", "", tenant.tenant_id)


def _group_call(request: FsRequest, view: DirectoryView) -> Answer:
    """``group/<ring group>@<domain>`` (mod_commands' group_call): the ring group, by name,
    id or extension, each member with a ``group-dial-string`` naming every device of theirs
    (group_call joins the members with "," or, for ``+F``, "|")."""
    domain, name = request.domain, request.get("group")
    tenant = view.tenant(domain) if domain else None
    if tenant is None:
        return not_found(f"domain {domain!r} is not a tenant")
    key = ("group", name)
    cached = tenant.answers.get(key)
    if cached is not None:
        return Answer(cached, "found", "", tenant.tenant_id)
    group = tenant.ring_groups.get(name) or tenant.ring_groups.get(tenant.group_extensions.get(name, "")) or next(
        (g for g in tenant.ring_groups.values() if g.name == name), None)
    if group is None:
        return not_found(f"no ring group {name!r} in {domain!r}", tenant.tenant_id)
    plan = dialplan.Plan(tenant, "default")
    members = [(u.extension or u.username, {"group-dial-string": ",".join(plan.device_legs(u))})
               for u in (tenant.users[m] for m in group.members if m in tenant.users)]
    document = documents.directory_group(tenant.domain, name, members)
    return Answer(_remember(tenant, key, document), "found", "", tenant.tenant_id)


def _sip_auth(request: FsRequest, view: DirectoryView, guard: AuthGuard | None) -> Answer:
    """The device's a1-hash for a digest that verifies against it, else "not found". With a
    ``guard`` (an authenticated FreeSWITCH, whose ``ip`` is believed) failures are counted and
    blocks applied."""
    domain, name = request.domain, request.user
    tenant = view.tenant(domain) if domain else None
    tenant_id = tenant.tenant_id if tenant else ""
    address = request.get("ip") if guard is not None else ""
    who = username(name, domain)
    trusted_address = bool(address and tenant is not None and tenant.trusts(address))
    if guard is not None and address:
        block = guard.refusal(address, who, trusted_address)
        if block is not None:
            scope = "the address" if block.address_wide else f"{who} from the address"
            return not_found(f"{scope} {address} is blocked after repeated authentication failures", tenant_id)
    result = _directory(request, view)
    found = tenant.device(name) if tenant is not None and result.outcome == "found" else None
    verdict = digest_matches(request, found[0].a1_hash) if found else None
    if verdict is True:
        if guard is not None and address:
            guard.success(address, who)
        return result
    reason = result.reason if found is None else (
        "the request carries no digest" if verdict is None else "the digest does not match the password")
    denied = not_found(f"sip_auth of {name[:64]!r} in {domain[:64]!r}: {reason}", tenant_id)
    if guard is None or not address or not request.get("sip_auth_response"):
        return denied
    block = guard.failure(address, who, name, domain, tenant_id or "platform", trusted_address)
    return Answer(denied.document, denied.outcome, denied.reason, denied.tenant, block)


def dial_string(tenant: TenantView, user: UserEntry) -> str:
    """Every device of the user at once (``,``): phones, softphones, smartphones (PBX-03)."""
    if not user.devices:
        return "error/user_not_registered"
    return DIAL_PREFIX + dialstring.at_once(dialstring.contact_leg(d, tenant.domain) for d in user.devices)


def _variables(tenant: TenantView, user: UserEntry) -> dict[str, str]:
    outbound = user.direct_number if user.caller_id_policy == "direct" and user.direct_number else tenant.representative_number
    variables = {
        "user_context": user.context,
        "effective_caller_id_name": user.display_name or user.username,
        "effective_caller_id_number": user.extension or user.username,
        "hibiki_tenant": tenant.tenant_id,
        "hibiki_user": user.id,
    }
    if outbound:
        variables["outbound_caller_id_number"] = outbound
    if user.extension:
        variables["mailbox"] = user.extension
    return variables
