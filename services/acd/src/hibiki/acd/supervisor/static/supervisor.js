// The supervisor page (CC-06): every agent's state and time in state, every queue's waiting calls
// and longest wait, live from the ACD (SSE read with fetch, so it carries the token); state and
// queue changes through the ACD's agent API; listen, whisper and barge through callcontrol's
// supervision API on this origin, heard in the page's own softphone (JsSIP registered as the
// supervisor's device: the eavesdrop leg rings it and the page answers it) or on a desk phone.
import {addMessages, api, el, mountHeader, t, translate} from "/ui/hibiki.js";

addMessages(JSON.parse(document.getElementById("catalogue").textContent));
const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;
const me = {tenant: "", token: "", device: ""};
const MODES = ["listen", "whisper", "barge"];
const RING_SECONDS = 40;
let overview = null, offset = 0;            // the ACD's view, and its clock minus ours
let feedAbort = null, retry = 1000, retryTimer = null;
let ua = null, session = null;
let supervision = null;                      // {agent, callUuid, id, mode, since, answered}

// -- errors and notices (GOV.UK-style summary) ---------------------------------------------
function showErrors(items) {
  const list = $("error-list");
  list.textContent = "";
  for (const text of items) list.append(el("li", {}, text));
  $("errors").hidden = items.length === 0;
  if (items.length) $("errors").focus();
}
const notice = (text) => { $("notice").textContent = text; };

function call(method, path, body) {
  return api(`/api/v1/tenants/${encodeURIComponent(me.tenant)}${path}`,
             {method, body, token: me.token || undefined});
}
async function act(method, path, body) {
  try {
    const result = await call(method, path, body);
    showErrors([]);
    return result ?? true;
  } catch (e) {
    showErrors([`${t("sv.failed")}: ${e.describe ? e.describe() : e.message}`]);
    return null;
  }
}

// -- time ------------------------------------------------------------------------------------
function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
}
const acdNow = () => Date.now() / 1000 + offset;

// -- the live view ----------------------------------------------------------------------------
function showFeed(state) {
  $("feed").dataset.state = state;
  $("feed").textContent = t(`sv.feed.${state}`);
}

function agentRow(a) {
  const onCall = Boolean(a.call_id) && a.state === "talking";
  const select = el("select", {id: `state-${a.id}`, "aria-label": t("sv.state_label", {agent: a.id})},
    ...["ready", "not_ready", "break", "logout"].map((s) => el("option", {value: s}, t(`set.${s}`))));
  const queues = el("input", {type: "text", id: `queues-${a.id}`, value: a.queues.join(", "),
                              "aria-label": t("sv.queues_label", {agent: a.id})});
  const actions = el("div", {class: "row-actions"},
    select, el("button", {type: "button", id: `apply-${a.id}`, "aria-label": t("sv.apply_label", {agent: a.id}), onclick: () => setState(a.id, select.value)},
               t("sv.apply")),
    queues, el("button", {type: "button", id: `save-queues-${a.id}`, class: "secondary",
                          "aria-label": t("sv.save_queues_label", {agent: a.id}), onclick: () => saveQueues(a, queues.value)}, t("sv.save_queues")),
    ...MODES.map((mode) => el("button", {type: "button", id: `${mode}-${a.id}`, disabled: !onCall,
                                         "aria-label": t(`sv.${mode}_label`, {agent: a.id}),
                                         onclick: () => supervise(a, mode)}, t(`sv.${mode}`))));
  return el("tr", {id: `agent-${a.id}`, dataset: {state: a.state, agent: a.id}},
    el("th", {scope: "row"}, a.id),
    el("td", {class: "state-cell", id: `agent-state-${a.id}`}, t(`state.${a.state}`) + (a.reason ? ` (${a.reason})` : "")),
    a.state_since > 0 && a.state !== "logged_out"
      ? el("td", {class: "since", id: `since-${a.id}`, dataset: {since: String(a.state_since)}}, clock(acdNow() - a.state_since))
      : el("td", {id: `since-${a.id}`}, "—"),
    el("td", {}, a.device || "—"),
    el("td", {id: `caller-${a.id}`}, a.call_id ? (a.caller_number || "—") : "—"),
    el("td", {}, a.queues.join(", ") || "—"),
    el("td", {}, actions));
}

function queueRow(q) {
  return el("tr", {id: `queue-${q.queue_id}`},
    el("th", {scope: "row"}, q.queue_id),
    el("td", {id: `waiting-${q.queue_id}`}, String(q.waiting.length)),
    el("td", {class: "longest", id: `longest-${q.queue_id}`, dataset: {longest: String(q.longest_wait), at: String(overview.now)}},
       q.waiting.length ? clock(q.longest_wait) : "—"),
    el("td", {}, String(q.agents_ready)),
    el("td", {}, String(q.agents_logged_in)));
}

function render() {
  if (!overview) return;
  const focused = document.activeElement && document.activeElement.id;
  const kept = {};       // what the supervisor is typing survives a refresh
  document.querySelectorAll("#agent-rows input, #agent-rows select").forEach((i) => { kept[i.id] = i.value; });
  $("agent-rows").replaceChildren(...overview.agents.map(agentRow));
  $("queue-rows").replaceChildren(...overview.queues.map(queueRow));
  for (const [id, value] of Object.entries(kept)) if ($(id) && id === focused) $(id).value = value;
  if (focused && $(focused)) $(focused).focus();
  showSupervision();
}

function tick() {          // time in state and the longest wait, between two views
  document.querySelectorAll("td.since").forEach((c) => { c.textContent = clock(acdNow() - Number(c.dataset.since)); });
  document.querySelectorAll("td.longest").forEach((c) => {
    if (c.textContent !== "—") c.textContent = clock(Number(c.dataset.longest) + acdNow() - Number(c.dataset.at));
  });
}

async function openFeed() {
  if (feedAbort) feedAbort.abort();
  const controller = new AbortController();
  feedAbort = controller;
  const headers = me.token ? {Authorization: "Bearer " + me.token} : {};
  try {
    const reply = await fetch(`/api/v1/tenants/${encodeURIComponent(me.tenant)}/supervisor/events`,
                              {headers, signal: controller.signal, cache: "no-store", credentials: "same-origin"});
    if (!reply.ok) {
      let body = null;
      try { body = await reply.json(); } catch (_) { /* not JSON */ }
      showErrors([`${t("sv.failed")}: ${reply.status} ${body ? body.error_id + ": " + body.message : ""}`]);
      showFeed("off");
      if (reply.status === 401 || reply.status === 403) { signout(); return; }
      throw new Error(String(reply.status));
    }
    showFeed("live");
    retry = 1000;
    const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const name = (block.match(/^event: (.*)$/m) || [])[1];
        const data = (block.match(/^data: (.*)$/m) || [])[1];
        if (name === "overview" && data) {
          overview = JSON.parse(data);
          offset = overview.now - Date.now() / 1000;
          render();
        }
      }
    }
    throw new Error("closed");
  } catch (e) {
    if (controller.signal.aborted) return;
    showFeed("lost");
    retryTimer = setTimeout(openFeed, retry);
    retry = Math.min(retry * 2, 15000);
  }
}

// -- the agent API (state, queues) ------------------------------------------------------------
async function setState(agent, state) {
  const path = `/agents/${encodeURIComponent(agent)}`;
  const done = state === "logout" ? await act("POST", `${path}/logout`)
                                  : await act("POST", `${path}/state`, {state, reason: ""});
  if (done) notice(`${agent}: ${t(`set.${state}`)}`);
}
async function saveQueues(agent, text) {
  const queues = text.split(/[,、\s]+/).map((q) => q.trim()).filter(Boolean);
  const done = await act("PUT", `/agents/${encodeURIComponent(agent.id)}`, {skills: agent.skills, queues});
  if (done) notice(`${agent.id}: ${queues.join(", ")}`);
}

// -- supervision ------------------------------------------------------------------------------
function showSupervision() {
  const p = $("supervision");
  if (!supervision) {
    p.dataset.state = "none";
    p.dataset.mode = "";
    p.textContent = t("sv.supervision.none");
  } else {
    p.dataset.state = supervision.answered ? "active" : "ringing";
    p.dataset.mode = supervision.mode;
    p.textContent = t(supervision.answered ? "sv.supervision.active" : "sv.supervision.ringing",
                      {agent: supervision.agent, mode: t(`sv.mode.${supervision.mode}`)});
  }
  for (const mode of MODES) {
    const b = $(`mode-${mode}`);
    b.disabled = !supervision;
    b.setAttribute("aria-pressed", String(Boolean(supervision) && supervision.mode === mode));
  }
  $("stop").disabled = !supervision;
}

async function supervise(agent, mode) {
  if (supervision && supervision.agent === agent.id) return switchMode(mode);
  if (!me.device) { showErrors([t("sv.no_device")]); return; }
  if (supervision) await stop();
  // set before asking: the eavesdrop leg may ring the softphone before the answer arrives
  const s = {agent: agent.id, callUuid: agent.call_id, id: null, mode, since: Date.now(), answered: false};
  supervision = s;
  showSupervision();
  const started = await act("POST", `/calls/${agent.call_id}/supervision`, {mode, device: me.device});
  if (supervision !== s) return;
  if (!started) {
    supervision = null;
    if (session) { try { session.terminate(); } catch (_) { /* already over */ } }
  } else {
    s.callUuid = started.call_uuid;
    s.id = started.supervision_id;
  }
  showSupervision();
}

async function switchMode(mode) {
  if (!supervision || !supervision.id || supervision.mode === mode) return;
  const s = supervision;
  const switched = await act("PUT", `/calls/${s.callUuid}/supervision/${s.id}`, {mode});
  if (switched && supervision === s) { s.mode = switched.mode; showSupervision(); }
}

async function stop() {
  if (!supervision) return;
  const s = supervision;
  supervision = null;
  if (s.id) await act("DELETE", `/calls/${s.callUuid}/supervision/${s.id}`);
  if (session) { try { session.terminate(); } catch (_) { /* already over */ } }
  showSupervision();
}

// -- the softphone (JsSIP straight to FreeSWITCH) -----------------------------------------------
function showPhone(state, reason = "") {
  $("phone-status").dataset.state = state;
  $("phone-status").textContent = t(`sv.phone.${state}`);
  $("phone-reason").textContent = reason;
}

function loadLibrary(src) {
  if (window.JsSIP) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = el("script", {src});
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(src));
    document.head.append(script);
  });
}

async function startPhone(password) {
  if (!me.device) { showPhone("off"); return; }
  if (!password) { showPhone("desk"); return; }
  let settings;
  try {
    settings = await call("GET", `/supervisor/softphone?device=${encodeURIComponent(me.device)}`);
  } catch (e) { showPhone("failed", e.describe ? e.describe() : e.message); return; }
  if (!settings.available) { showPhone("unavailable", settings.reason); return; }
  try { await loadLibrary(settings.library); } catch (e) { showPhone("unavailable", e.message); return; }
  showPhone("connecting");
  ua = new window.JsSIP.UA({sockets: [new window.JsSIP.WebSocketInterface(settings.ws_url)], uri: settings.uri,
                            password, register: true, session_timers: false, register_expires: 300});
  ua.on("registered", () => showPhone("registered"));
  ua.on("registrationFailed", (e) => showPhone("failed", e.cause || ""));
  ua.on("newRTCSession", (e) => {
    const s = e.session;
    // only the eavesdrop leg of a supervision this page asked for is answered (and only while it rings)
    if (e.originator !== "remote" || !supervision || supervision.answered || session ||
        Date.now() - supervision.since > RING_SECONDS * 1000) {
      if (e.originator === "remote") s.terminate({status_code: 486});
      return;
    }
    session = s;
    s.on("peerconnection", (p) => attachAudio(p.peerconnection));
    s.on("confirmed", () => { if (supervision) { supervision.answered = true; showSupervision(); } });
    const over = () => { session = null; supervision = null; showSupervision(); };
    s.on("ended", over);
    s.on("failed", over);
    s.answer({mediaConstraints: {audio: true, video: false}});
    if (s.connection) attachAudio(s.connection);
  });
  ua.start();
}

function attachAudio(pc) {
  pc.addEventListener("track", (event) => {
    const audio = $("remote-audio");
    audio.srcObject = event.streams[0] || new MediaStream([event.track]);
    audio.play().catch(() => {});
  });
}

// for tests and diagnostics: what the softphone sent and received (packets)
window.hibikiSupervisor = {
  async stats() {
    if (!session || !session.connection) return {sent: 0, received: 0};
    let sent = 0, received = 0;
    (await session.connection.getStats()).forEach((r) => {
      if (r.type === "outbound-rtp" && r.kind === "audio") sent += r.packetsSent || 0;
      if (r.type === "inbound-rtp" && r.kind === "audio") received += r.packetsReceived || 0;
    });
    return {sent, received};
  },
  connection: () => (session ? session.connection : null),
  current: () => (supervision ? {...supervision} : null),
};

// -- sign in and out ----------------------------------------------------------------------------
async function signin(event) {
  if (event) event.preventDefault();
  me.tenant = $("tenant").value.trim();
  me.token = $("token").value.trim();
  me.device = $("device").value.trim();
  if (!$("signin").checkValidity() || !me.tenant) { $("signin").reportValidity(); return; }
  if (me.token) store.setItem("hibiki.supervisor.token", me.token);
  store.setItem("hibiki.supervisor.tenant", me.tenant);
  store.setItem("hibiki.supervisor.device", me.device);
  $("signin").hidden = true;
  $("board").hidden = false;
  showErrors([]);
  openFeed();
  await startPhone($("sip-password").value);
  $("sip-password").value = "";
}

function signout() {
  if (supervision) stop();
  if (feedAbort) feedAbort.abort();
  clearTimeout(retryTimer);
  if (ua) { try { ua.stop(); } catch (_) { /* gone */ } ua = null; }
  store.removeItem("hibiki.supervisor.token");
  me.token = "";
  overview = null;
  $("board").hidden = true;
  $("signin").hidden = false;
  showFeed("off");
  showPhone("off");
}

async function begin() {
  mountHeader({title: "sv.title"});
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);  // the token leaves the address bar
  $("tenant").value = fragment.get("tenant") || store.getItem("hibiki.supervisor.tenant") || "";
  $("token").value = fragment.get("token") || store.getItem("hibiki.supervisor.token") || "";
  $("device").value = fragment.get("device") || store.getItem("hibiki.supervisor.device") || "";
  if (!$("tenant").value) {      // signed in at the console: the session says which tenant
    try {
      const who = await api("/api/v1/desktop/session");
      $("tenant").value = who.tenant === "*" ? "" : who.tenant;
    } catch (_) { /* not signed in: the form asks */ }
  }
  $("signin").addEventListener("submit", signin);
  $("signout").addEventListener("click", signout);
  for (const mode of MODES) $(`mode-${mode}`).addEventListener("click", () => switchMode(mode));
  $("stop").addEventListener("click", stop);
  document.addEventListener("hibiki:lang", () => { render(); showFeed($("feed").dataset.state);
                                                   showPhone($("phone-status").dataset.state, $("phone-reason").textContent); });
  showFeed("off");
  showPhone("off");
  showSupervision();
  translate();
  setInterval(tick, 1000);
}

begin();
