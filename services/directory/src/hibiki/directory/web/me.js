// A user's own page (/me): their devices and forwarding, their voicemail messages to listen to
// and delete (PBX-10), their call history (analytics' API, through this origin). A staff member
// (role self-service) sees the directory user their console user is linked to; an administrator
// picks any user (?user=).
import {addMessages, api, el, mountHeader, say, t} from "/ui/hibiki.js";
import {MESSAGES} from "./messages.js";
import {NAV, session, signOut} from "./session.js";
import {ask, field, read, showError, table} from "./ui.js";

addMessages(MESSAGES);
const FORWARDS = ["forward_always", "forward_busy", "forward_no_answer", "forward_no_answer_seconds", "forward_unregistered"];
let audioUrl = null;

async function start() {
  const ctx = await session();
  const who = ctx && ctx.me ? (ctx.me.user ? ctx.me.user.display_name || ctx.me.user.login : ctx.me.subject) : null;
  mountHeader({title: "m.title", nav: NAV, user: who, onLogout: ctx ? () => signOut(ctx, "/me") : null});
  if (!ctx) { document.getElementById("signin").hidden = false; document.getElementById("signin-link").focus(); return; }
  document.getElementById("app").hidden = false;
  const status = document.getElementById("status");
  // Whoever reads the configuration picks any user (?user=); a staff member (self-service) sees
  // the directory user their console user is linked to, and nobody else.
  let people = null;
  try { people = (await api(`${ctx.base}/users?limit=1000`)).items; } catch (exc) { if (exc.status !== 403) throw exc; }
  const own = ctx.me.directory_user || null;
  if (!people) {
    if (!own) { say(status, t("m.unlinked"), true); return; }
    await show(ctx, own, status, false);
    return;
  }
  const asked = new URLSearchParams(location.search).get("user");
  const login = ctx.me.user ? ctx.me.user.login : ctx.me.subject;
  const me = people.find((u) => u.id === asked) || people.find((u) => u.id === own) || people.find((u) => u.username === login) || people[0];
  if (!me) return;
  const pick = field({name: "user", label: "m.user.pick", type: "select", options: people.map((u) => [u.id, null])}, me.id);
  [...pick.control.options].forEach((o, i) => { o.textContent = `${people[i].display_name || people[i].username} (${people[i].extension || "—"})`; });
  pick.control.addEventListener("change", () => show(ctx, pick.control.value, status, true));
  document.getElementById("pick-user").replaceChildren(pick);
  await show(ctx, me.id, status, true);
}

async function show(ctx, id, status, picked) {
  if (picked) history.replaceState(null, "", `/me?user=${encodeURIComponent(id)}`);
  let page;
  try { page = await api(`${ctx.base}/users/${encodeURIComponent(id)}/own`); }
  catch (exc) { say(status, exc.describe(), true); return; }
  const user = page.user;
  document.getElementById("me-name").textContent = `${user.display_name || user.username}（${t("f.extension")} ${user.extension || "—"}）`;
  devices(page.devices);
  forwarding(ctx, user, status);
  await Promise.all([voicemail(ctx, user, status), calls(ctx, user, status)]);
}

function devices(mine) {
  const box = document.getElementById("me-devices");
  box.replaceChildren(mine.length ? table("m.devices", [t("f.sip_username"), t("f.kind"), t("f.label"), t("f.line_key")],
    mine.map((d) => [d.sip_username, t("f.kind." + d.kind), d.label, d.line_key ?? "—"]), {id: "me-devices-list"}) : el("p", {}, t("hb.none")));
}

function forwarding(ctx, user, status) {
  const specs = FORWARDS.map((name) => ({name, type: name.endsWith("seconds") ? "number" : "tel", min: 5, max: 120}));
  const boxes = specs.map((s) => field(s, user[s.name]));
  const form = el("form", {class: "item-form", id: "me-forwarding-form", "aria-labelledby": "me-forwarding-title", novalidate: true},
    ...boxes, el("div", {class: "actions"}, el("button", {type: "submit"}, t("hb.save"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(specs.map((s, i) => [s.name, read(boxes[i], s.type === "tel" ? {} : s)]));
    try {
      Object.assign(user, await api(`${ctx.base}/users/${encodeURIComponent(user.id)}/forwarding`, {method: "PUT", body}));
      say(status, t("hb.saved"));
    } catch (exc) { showError(form, status, exc); }
  });
  document.getElementById("me-forwarding").replaceChildren(form);
}

async function voicemail(ctx, user, status) {
  const box = document.getElementById("me-voicemail");
  const base = `${ctx.base}/users/${encodeURIComponent(user.id)}/voicemail`;
  let got;
  try { got = await api(base); } catch (exc) { box.replaceChildren(el("p", {class: "error"}, exc.describe())); return; }
  const player = el("audio", {id: "me-player", controls: true, hidden: true, "aria-label": t("m.listen")});
  const when = (m) => new Date(m.received_at * 1000).toLocaleString(undefined, {timeZone: "Asia/Tokyo"});
  const from = (m) => [m.caller_name, m.caller_number].filter(Boolean).join(" ") || "—";
  const rows = got.messages.map((m) => [when(m), from(m), String(m.seconds), el("span", {dataset: {actions: "1"}},
    el("button", {type: "button", class: "secondary", "aria-label": t("m.listen.label", {when: when(m), from: from(m)}), onclick: async () => {
      try {
        const response = await api(`${base}/${encodeURIComponent(m.id)}/audio`, {raw: true});
        if (audioUrl) URL.revokeObjectURL(audioUrl);
        audioUrl = URL.createObjectURL(await response.blob());
        player.src = audioUrl; player.hidden = false; player.dataset.message = m.id;
        await player.play().catch(() => {});
        player.focus();
      } catch (exc) { say(status, exc.describe(), true); }
    }}, t("m.listen")),
    el("button", {type: "button", class: "secondary", "aria-label": t("m.delete.label", {when: when(m), from: from(m)}), onclick: async () => {
      if (!(await ask(t("c.delete.ask", {name: `${when(m)} ${from(m)}`}), "c.yes.delete"))) return;
      try { await api(`${base}/${encodeURIComponent(m.id)}`, {method: "DELETE"}); say(status, t("hb.deleted")); await voicemail(ctx, user, status); }
      catch (exc) { say(status, exc.describe(), true); }
    }}, t("hb.delete")))]);
  box.replaceChildren(rows.length ? table("m.voicemail", [t("m.when"), t("m.from"), t("m.length"), t("hb.actions")], rows, {id: "me-voicemail-list"})
                                  : el("p", {id: "me-voicemail-none"}, t("m.no_messages")), player);
}

async function calls(ctx, user, status) {
  const box = document.getElementById("me-history");
  try {
    const got = await api(`/api/v1/tenants/${ctx.tenant}/calls/history?user=${encodeURIComponent(user.id)}&limit=50`);
    box.replaceChildren(got.calls.length ? table("m.history", [t("m.when"), t("m.direction"), t("m.other"), t("m.length")],
      got.calls.map((c) => [new Date(c.start_time).toLocaleString(undefined, {timeZone: "Asia/Tokyo"}), t("m.kind." + c.kind),
                            [c.other_name, c.other_number].filter(Boolean).join(" "), String(c.talk_seconds)]), {id: "me-history-list"})
      : el("p", {}, t("m.no_calls")));
  } catch (exc) { box.replaceChildren(el("p", {class: "error", id: "me-history-error"}, exc.describe())); }
}

start();
