"""Answering FreeSWITCH: from a parsed request and the view to an XML document.

Fails closed: an unknown domain, an unknown user or a request we do not serve is
the "not found" document, with the reason logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from hibiki.directory import documents
from hibiki.directory.view import DirectoryView
from hibiki.directory.xmlcurl import FsRequest

# Directory lookups we answer with the user's entry (the rest of the directory
# actions come with the configuration model).
USER_LOOKUPS = frozenset({"", "sip_auth", "user_call", "message-count", "voicemail-lookup"})

DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
    "${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)


@dataclass(frozen=True)
class Answer:
    document: str
    outcome: str          # "found" or "not_found"
    reason: str = ""
    tenant: str = ""


def not_found(reason: str, tenant: str = "") -> Answer:
    return Answer(documents.NOT_FOUND, "not_found", reason, tenant)


def answer(request: FsRequest, view: DirectoryView) -> Answer:
    if request.section == "directory":
        return _directory(request, view)
    return not_found(f"section {request.section!r} is not served yet")


def _directory(request: FsRequest, view: DirectoryView) -> Answer:
    if request.get("purpose") in ("gateways", "network-list"):
        return not_found(f"purpose {request.get('purpose')!r}: no gateways or network lists configured")
    if request.action not in USER_LOOKUPS:
        return not_found(f"directory action {request.action!r} is not served")
    domain, user_id = request.domain, request.user
    if not domain or not user_id:
        return not_found("directory lookup without user and domain")
    tenant = view.tenant(domain)
    if tenant is None:
        return not_found(f"domain {domain!r} is not a tenant")
    user = tenant.users.get(user_id)
    if user is None:
        return not_found(f"user {user_id!r} is not in {domain!r}", tenant.tenant_id)
    variables = {
        "user_context": user.context,
        "effective_caller_id_name": user.display_name or user.user_id,
        "effective_caller_id_number": user.extension or user.user_id,
        "hibiki_tenant": tenant.tenant_id,
    }
    document = documents.directory_user(
        tenant.domain, user.user_id, {"a1-hash": user.a1_hash}, variables, {"dial-string": DIAL_STRING}
    )
    return Answer(document, "found", "", tenant.tenant_id)
