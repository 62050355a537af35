// The console (/console): sign-in, the sections, the disaster-mode switch. Everything it shows
// comes from the admin APIs of this origin with the signed-in user's credentials.
import {addMessages, api, el, mountHeader, say, t, translate} from "/ui/hibiki.js";
import {MESSAGES} from "./messages.js";
import {consoleUsers, devices, dids, extensions, gateways, groups, phonebook, ringGroups, users} from "./sections.js";
import {schedules} from "./schedule.js";
import {ivrs} from "./ivr.js";
import {csv} from "./csv.js";
import {agents, queues} from "./acd.js";
import {desk} from "./desk.js";
import {ask} from "./ui.js";
import {audit, security} from "./identity.js";
import {NAV, session, signOut} from "./session.js";

addMessages(MESSAGES);
const SECTIONS = [
  ["users", users], ["devices", devices], ["extensions", extensions], ["ring_groups", ringGroups],
  ["pickup", groups("pickup_group")], ["park", groups("park_group")], ["dids", dids], ["schedules", schedules],
  ["ivrs", ivrs], ["queues", queues], ["agents", agents], ["desk", desk], ["phonebook", phonebook], ["gateways", gateways], ["csv", csv],
  ["console_users", consoleUsers], ["security", security], ["audit", audit]];

async function start() {
  const ctx = await session();
  const who = ctx && ctx.me ? (ctx.me.user ? ctx.me.user.display_name || ctx.me.user.login : ctx.me.subject) : null;
  mountHeader({title: "hb.console", nav: NAV, user: who, onLogout: ctx ? () => signOut(ctx, "/console") : null});
  if (!ctx) {
    const box = document.getElementById("signin"), form = document.getElementById("signin-form");
    box.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem("hibiki.tenant", form.tenant.value.trim());
      sessionStorage.setItem("hibiki.token", form.token.value.trim());
      location.reload();
    });
    form.tenant.value = sessionStorage.getItem("hibiki.tenant") || "";
    document.getElementById("signin-link").focus();
    return;
  }
  if (ctx.me.roles.length && ctx.me.roles.every((r) => r === "self-service")) {   // a staff member: their own page
    location.replace("/me");
    return;
  }
  document.getElementById("app").hidden = false;
  const list = document.querySelector("#sections ul");
  for (const [id] of SECTIONS) list.append(el("li", {}, el("a", {href: `#${id}`, "data-i18n": `c.${id}`, "data-section": id})));
  translate();
  await disaster(ctx);
  window.addEventListener("hashchange", () => show(ctx, true));
  document.addEventListener("hibiki:lang", () => { show(ctx, false); disaster(ctx); });
  await show(ctx, false);
}

async function show(ctx, moveFocus) {
  const wanted = location.hash.slice(1);
  const [id, render] = SECTIONS.find(([name]) => name === wanted) || SECTIONS[0];
  document.querySelectorAll("#sections a").forEach((a) => {
    if (a.dataset.section === id) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  const title = document.getElementById("view-title"), status = document.getElementById("status");
  const content = document.getElementById("content");
  title.textContent = t(`c.${id}`);
  document.title = `${t(`c.${id}`)} — ${t("hb.console")} — Hibiki`;
  say(status, t("hb.loading"));
  content.dataset.section = id;
  try {
    await render(ctx, content, status);
    if (status.textContent === t("hb.loading")) say(status, "");
  } catch (exc) {
    content.replaceChildren();
    say(status, exc.describe ? exc.describe() : String(exc), true);
  }
  if (moveFocus) title.focus();
}

async function disaster(ctx) {
  const bar = document.getElementById("disaster-bar"), state = document.getElementById("disaster-state");
  const button = document.getElementById("disaster-toggle");
  let now;
  try { now = await api(`${ctx.base}/disaster_mode`); } catch (exc) { say(state, exc.describe(), true); return; }
  bar.classList.toggle("on", now.active || now.partly);
  const unswitched = now.unswitched_dids.length ? " " + t("c.disaster.unswitched", {list: now.unswitched_dids.join(", ")}) : "";
  state.textContent = (now.schedules.length === 0 ? t("c.disaster.none")
    : now.active ? t("c.disaster.on") : now.partly ? t("c.disaster.partly") : t("c.disaster.off")) + unswitched;
  const turnOn = !now.active;
  button.textContent = t(turnOn ? "c.disaster.switch_on" : "c.disaster.switch_off");
  button.className = turnOn ? "danger" : "";
  button.disabled = now.schedules.length === 0;
  button.onclick = async () => {
    if (!(await ask(t(turnOn ? "c.disaster.ask_on" : "c.disaster.ask_off") + unswitched, turnOn ? "c.yes.on" : "c.yes.off"))) {
      button.focus();
      return;
    }
    try {
      await api(`${ctx.base}/disaster_mode`, {method: "PUT", body: {active: turnOn, reason: turnOn ? t("s.override.disaster") : ""}});
      await disaster(ctx);
      say(document.getElementById("status"), t(turnOn ? "c.disaster.done_on" : "c.disaster.done_off"));
      if (location.hash === "#schedules") await show(ctx, false);
    } catch (exc) { say(state, exc.describe(), true); }
    button.focus();
  };
}

start();
