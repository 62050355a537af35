"""mod_dialplan_xml: pick the extension of a dialplan document and list its actions.

Source: src/mod/dialplans/mod_dialplan_xml/mod_dialplan_xml.c (``parse_exten``): contexts by
name, extensions in order, conditions ANDed; ``field`` names a caller-profile field
(destination_number, caller_id_number, ...) or ``${var}``; ``expression`` is a PCRE (Python
``re`` here); ``$1``.. substitution in action data; ``break`` = on-false (default) / on-true /
always / never; ``anti-action`` on a failed condition; ``continue="true"`` keeps looking for
more extensions; ``inline="true"`` actions run during routing (here: applied immediately);
``DP_MATCH`` set from the captures when the expression has a group.  No match ->
NO_ROUTE_DESTINATION (switch_core_state_machine.c).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable

__all__ = ["Action", "RouteResult", "route", "find_context"]

FIELDS = {"destination_number": "destination", "caller_id_number": "caller_id_number",
          "caller_id_name": "caller_id_name", "context": "context", "network_addr": "network_addr",
          "ani": "caller_id_number", "username": "caller_id_number", "source": "source",
          "chan_name": "name", "uuid": "uuid", "dialplan": "dialplan"}


@dataclass
class Action:
    app: str
    data: str
    inline: bool = False


@dataclass
class RouteResult:
    actions: list[Action]
    extension: str | None
    dp_match: list[str] | None = None


def find_context(doc: ET.Element, name: str) -> ET.Element | None:
    section = doc if doc.tag == "section" else doc.find("./section[@name='dialplan']")
    if section is None:
        return None
    for ctx in section.findall("context"):
        if ctx.get("name") == name:
            return ctx
    return None


def _subst(data: str, groups: tuple[str, ...]) -> str:
    def rep(m: "re.Match[str]") -> str:
        i = int(m.group(1))
        return groups[i] if i < len(groups) and groups[i] is not None else ""
    return re.sub(r"\$(\d)", rep, data)


def route(doc: ET.Element, context: str, field_value: Callable[[str], str | None],
          set_var: Callable[[str, str | None], None]) -> RouteResult:
    ctx = find_context(doc, context)
    actions: list[Action] = []
    first: str | None = None
    dp_match: list[str] | None = None
    if ctx is None:
        return RouteResult([], None)
    for ext in ctx.findall("extension"):
        matched_any = False
        proceed = True
        ext_actions: list[Action] = []
        for cond in ext.findall("condition"):
            fname, expr = cond.get("field"), cond.get("expression")
            brk = (cond.get("break") or "on-false").lower()
            groups: tuple[str, ...] = ()
            if fname is None and expr is None:
                ok = True
            else:
                if fname and fname.startswith("${") and fname.endswith("}"):
                    val = field_value("$" + fname[2:-1]) or ""
                else:
                    val = field_value(fname or "") or ""
                m = re.search(expr or "", val) if expr is not None else None
                ok = m is not None
                if m is not None:
                    groups = (m.group(0),) + tuple(g or "" for g in m.groups())
                    if "(" in (expr or ""):
                        dp_match = list(groups)
                        set_var("DP_MATCH", "ARRAY::" + "|:".join(groups) if len(groups) > 1 else groups[0])
            kids = cond.findall("action") if ok else cond.findall("anti-action")
            for a in kids:
                act = Action(a.get("application") or "", _subst(a.get("data") or "", groups),
                             (a.get("inline") or "").lower() == "true")
                if act.inline and act.app == "set":
                    k, _, v = act.data.partition("=")
                    set_var(k, v or None)
                else:
                    ext_actions.append(act)
            if ok:
                matched_any = True
            else:
                proceed = False
            if (not ok and brk == "on-false") or (ok and brk == "on-true") or brk == "always":
                break
        if ext_actions or (matched_any and proceed):
            actions += ext_actions
            first = first or ext.get("name")
            if (ext.get("continue") or "").lower() != "true":
                break
    return RouteResult(actions, first, dp_match)
