// Console identity in the console (ADM-04/05): the tenant's identity policy (TOTP required,
// password rules), API tokens per console user and per integration (the token shown once,
// revocable on every service), and the audit trail (recent entries, the chain verified, CSV export).
import {api, el, say, t} from "/ui/hibiki.js";
import {listAll} from "./crud.js";
import {actions, ask, field, read, showError, table} from "./ui.js";

const INTEGRATION_ROLES = ["tenant-admin", "supervisor", "agent", "recording-admin", "auditor", "viewer"];
const when = (epoch) => (epoch ? new Date(epoch * 1000).toLocaleString(undefined, {timeZone: "Asia/Tokyo"}) : "—");

export async function security(ctx, root, status) {
  const [policy, tokens, people] = await Promise.all([api(`${ctx.base}/identity_policy`),
    api(`${ctx.base}/api_tokens`).then((r) => r.items), listAll(ctx, "console_users")]);
  root.replaceChildren(policyForm(ctx, policy, status), tokenList(ctx, root, status, tokens),
                       tokenForm(ctx, root, status, people));
}

function policyForm(ctx, policy, status) {
  const specs = [{name: "mfa_required", type: "checkbox"}, {name: "password_min_length", type: "number", min: 8, max: 128},
                 {name: "password_history", type: "number", min: 0, max: 24}];
  const boxes = specs.map((s) => field(s, policy[s.name]));
  const form = el("form", {class: "item-form", id: "policy-form", "aria-labelledby": "policy-title", novalidate: true},
    el("h3", {id: "policy-title"}, t("p.policy")), el("p", {class: "hint"}, t("p.policy.help")), ...boxes,
    el("div", {class: "actions"}, el("button", {type: "submit"}, t("hb.save"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = Object.fromEntries(specs.map((s, i) => [s.name, read(boxes[i], s)]));
      await api(`${ctx.base}/identity_policy`, {method: "PUT", body});
      say(status, t("hb.saved"));
    } catch (exc) { showError(form, status, exc); }
  });
  return form;
}

function tokenList(ctx, root, status, tokens) {
  const rows = tokens.map((k) => [k.name, t("p.kind." + k.kind), k.subject, k.roles.join(", "), when(k.expires_at),
    k.revoked_at ? t("p.revoked", {when: when(k.revoked_at)}) : actions(
      el("button", {type: "button", class: "secondary", "aria-label": `${t("p.revoke")}: ${k.name}`, onclick: async () => {
        if (!(await ask(t("p.revoke.ask", {name: k.name}), "p.revoke"))) return;
        try {
          await api(`${ctx.base}/api_tokens/${encodeURIComponent(k.id)}`, {method: "DELETE"});
          await security(ctx, root, status);
          say(status, t("p.revoked.done", {name: k.name}));
        } catch (exc) { say(status, exc.describe(), true); }
      }}, t("p.revoke")))]);
  return el("section", {"aria-labelledby": "tokens-title"}, el("h3", {id: "tokens-title"}, t("p.tokens")),
    table("p.tokens", [t("f.name"), t("f.kind"), t("p.subject"), t("f.roles"), t("p.expires"), t("hb.actions")], rows,
          {id: "api_tokens-list"}));
}

function tokenForm(ctx, root, status, people) {
  const specs = [
    {name: "name", required: true}, {name: "token_kind", label: "f.kind", type: "select",
                                     options: [["user", "p.kind.user"], ["integration", "p.kind.integration"]]},
    {name: "user_id", label: "p.user", type: "select", options: people.map((u) => [u.id, null])},
    {name: "roles", type: "multi", options: INTEGRATION_ROLES.map((r) => [r, t("role." + r)]), hint: "p.roles.hint"},
    {name: "days", type: "number", min: 1, max: 3650, default: 365, label: "p.days"}];
  const boxes = specs.map((s) => field(s, undefined));
  [...boxes[2].control.options].forEach((o, i) => { o.textContent = `${people[i].display_name || people[i].login} (${people[i].login})`; });
  const form = el("form", {class: "item-form", id: "api_tokens-form", "aria-labelledby": "token-new-title", novalidate: true},
    el("h3", {id: "token-new-title"}, t("p.token.new")), ...boxes,
    el("div", {class: "actions"}, el("button", {type: "submit"}, t("hb.create"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [name, kind, user, roles, days] = specs.map((s, i) => read(boxes[i], s));
    const body = {name, kind, days, ...(kind === "user" ? {user_id: user} : {roles})};
    try {
      const made = await api(`${ctx.base}/api_tokens`, {method: "POST", body});
      await security(ctx, root, status);
      const panel = el("section", {id: "api-token-once", class: "notice", "aria-labelledby": "token-once-title"},
        el("h3", {id: "token-once-title", tabindex: "-1"}, t("p.token.once", {name: made.name})),
        el("p", {}, t("p.token.once.help")), el("code", {id: "api-token-value"}, made.token));
      root.prepend(panel);
      panel.querySelector("h3").focus();
    } catch (exc) { showError(form, status, exc); }
  });
  return form;
}

export async function audit(ctx, root, status) {
  const check = await api(`${ctx.base}/audit/verify`);
  const got = await api(`${ctx.base}/audit?after_seq=${Math.max(0, check.head - 200)}&limit=200`);
  const recent = got.items.reverse();
  const verdict = el("p", {id: "audit-verdict", class: check.intact ? "notice" : "error", role: "status"},
    check.intact ? t("a.intact", {n: check.entries}) : t("a.broken", {list: check.problems.map((p) => `${p.seq}: ${p.problem}`).join(", ")}));
  const download = el("button", {type: "button", id: "audit-csv", class: "secondary", onclick: async () => {
    try {
      const response = await api(`${ctx.base}/audit/csv`, {raw: true});
      const link = el("a", {href: URL.createObjectURL(await response.blob()), download: `audit-${ctx.tenant}.csv`});
      document.body.append(link);
      link.click();
      link.remove();
    } catch (exc) { say(status, exc.describe(), true); }
  }}, t("a.csv"));
  const rows = recent.map((e) => [String(e.seq), new Date(e.at).toLocaleString(undefined, {timeZone: "Asia/Tokyo"}), e.actor,
                                  e.action, `${e.resource}${e.resource_id ? " " + e.resource_id : ""}`, e.address || "", e.outcome || ""]);
  root.replaceChildren(verdict, el("div", {class: "controls"}, download),
    table("a.recent", [t("a.seq"), t("m.when"), t("a.actor"), t("a.action"), t("a.resource"), t("a.address"), t("a.outcome")], rows,
          {id: "audit-list"}));
}
