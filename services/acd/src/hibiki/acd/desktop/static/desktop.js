// The agent desktop: sign-in, the agent's state in sync with the ACD (its HTTP API, its NATS events
// pushed over SSE), the screen pop of an offered call, the browser softphone (JsSIP over SIP/WebSocket
// straight to FreeSWITCH) and the disposition required before the next call.
"use strict";
(() => {
  const CATALOGUE = JSON.parse(document.getElementById("catalogue").textContent);
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  let lang = localStorage.getItem("hibiki.desktop.lang") || "ja";
  const t = (key) => (CATALOGUE[lang] || {})[key] || CATALOGUE.ja[key] || key;
  const me = { tenant: "", agent: "", token: "", device: "", cookie: false };
  // identity's console session: the HttpOnly cookie hibiki_session travels by itself; a change
  // also carries X-Hibiki-CSRF, a copy of the readable cookie hibiki_csrf (double submit)
  const csrf = () => (document.cookie.split("; ").find((c) => c.startsWith("hibiki_csrf=")) || "").slice(12);
  const auth = (unsafe) => me.token ? { Authorization: "Bearer " + me.token }
                                    : (unsafe ? { "X-Hibiki-CSRF": decodeURIComponent(csrf()) } : {});
  let view = null;            // the agent's view, as the ACD last told it
  let feedAbort = null, retry = 1000, retryTimer = null;
  let ua = null, session = null, softphone = null;
  let held = false, muted = false, callState = "idle";
  // an attended transfer: the consultation call with its target while the caller is on hold
  // (FreeSWITCH plays the caller the profile's hold-music, the project's local_stream://default)
  let consult = null, consultState = "idle", consultStarting = false;
  const TARGET = /^[0-9*#+]{1,32}$/;      // what the page sends; the dial plan checks it again
  // the tenant's case types and reasons (GET .../desk_settings, edited in the console); until
  // they are read (or when they cannot be) the page's own default lists stay
  let menus = null;

  // -- language ------------------------------------------------------------------------------
  function translate() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-label]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.i18nLabel)); });
    document.title = t("title");
    $("lang").value = lang;
    showFeed($("feed").dataset.state);
    renderView();
    showPhone($("phone-status").dataset.state, $("phone-reason").textContent);
    showCall(callState);
    showConsult(consultState);
    showMenus();
  }

  // -- the tenant's menus: case types, not-ready and break reasons ----------------------------
  const labelOf = (c) => (lang === "en" && c.label_en) ? c.label_en : c.label;
  function fillMenu(select, items, keepFirst) {
    const chosen = select.value;
    while (select.options.length > (keepFirst ? 1 : 0)) select.remove(select.options.length - 1);
    for (const c of items) {
      const option = document.createElement("option");
      option.value = c.id; option.textContent = labelOf(c);
      select.appendChild(option);
    }
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  }
  function showMenus() {
    if (!menus) return;
    fillMenu($("not-ready-reason"), menus.not_ready_reasons || [], false);
    fillMenu($("break-reason"), menus.break_reasons || [], false);
    fillMenu($("case-type"), menus.case_types || [], true);
  }
  async function loadMenus() {
    try { menus = await api("GET", "/desk_settings"); } catch (_) { return; }    // the page's lists stay
    showMenus();
    renderView();
  }
  function reasonLabel(reason) {
    const all = menus ? [...(menus.not_ready_reasons || []), ...(menus.break_reasons || [])] : [];
    const found = all.find((c) => c.id === reason);
    return found ? labelOf(found) : reason;
  }

  // -- errors (GOV.UK-style summary) ---------------------------------------------------------
  function showErrors(items) {
    const list = $("error-list");
    list.textContent = "";
    for (const item of items) {
      const li = document.createElement("li");
      if (item.field) {
        const a = document.createElement("a");
        a.href = "#" + item.field; a.textContent = item.text;
        li.appendChild(a);
      } else li.textContent = item.text;
      list.appendChild(li);
    }
    $("errors").hidden = items.length === 0;
    if (items.length) $("errors").focus();
  }
  function notice(text) { $("notice").textContent = text; }

  // -- the ACD's API -------------------------------------------------------------------------
  async function api(method, path, body) {
    const url = `/api/v1/tenants/${encodeURIComponent(me.tenant)}/agents/${encodeURIComponent(me.agent)}${path}`;
    const reply = await fetch(url, {
      method, cache: "no-store",
      headers: Object.assign(auth(method !== "GET"), body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined });
    let data = null;
    try { data = await reply.json(); } catch (_) { data = null; }
    if (!reply.ok) {
      const field = data && data.details && data.details.field ? ` (${data.details.field})` : "";
      const error = new Error(data ? `${reply.status} ${data.error_id}${field}: ${data.message}` : `${reply.status}`);
      error.status = reply.status;
      throw error;
    }
    return data;
  }
  async function act(method, path, body) {
    try {
      const result = await api(method, path, body);
      showErrors([]);
      if (result && result.state) { view = result; renderView(); }
      return result;
    } catch (e) {
      showErrors([{ text: `${t("failed")}: ${e.message}` }]);
      return null;
    }
  }

  // -- the agent's state ---------------------------------------------------------------------
  function renderView() {
    if (!view) return;
    const state = $("state");
    state.dataset.state = view.state;
    state.textContent = t("state." + view.state);
    $("state-reason").textContent = view.reason ? `(${reasonLabel(view.reason)})` : "";
    const pending = view.pending_disposition || "";
    $("ready").disabled = view.state === "ready" || !!pending || view.state === "talking" || view.state === "ringing";
    $("wrap").hidden = !pending;
    $("wrap").dataset.call = pending;
    if (!pending) { $("case-type-error").hidden = true; }
    tick();
  }
  function tick() {
    if (!view || !view.state_since) return;
    const seconds = Math.max(0, Math.floor(Date.now() / 1000 - view.state_since));
    $("state-since").textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  }
  setInterval(tick, 1000);

  // -- the screen pop ------------------------------------------------------------------------
  function showOffer(offer) {
    $("pop").dataset.call = offer.call_uuid;
    $("pop-none").hidden = true;
    $("pop-details").hidden = false;
    $("pop-caller").textContent = offer.caller_number || t("withheld");
    $("pop-queue").textContent = offer.queue_id;
    $("pop-ivr").textContent = (offer.ivr_path || []).join(" → ") || "—";
    $("pop-call").textContent = offer.call_uuid;
    $("pop-contact").textContent = "…";
    $("pop-script-box").hidden = true;
    loadPop(offer);
  }
  // the pop's extras (script, phonebook contact) come after the offer: a slow directory never delays it
  async function loadPop(offer) {
    const params = new URLSearchParams({ queue_id: offer.queue_id || "" });   // the ACD knows the caller
    let pop;
    try { pop = await api("GET", `/pop?${params}`); } catch (e) { pop = { contacts: [], script: null, contacts_error: e.message }; }
    if ($("pop").dataset.call !== offer.call_uuid) return;
    const box = $("pop-contact");
    box.textContent = "";
    if (pop.contacts.length) {
      for (const c of pop.contacts) {
        const line = document.createElement("div");
        line.className = "contact";
        line.textContent = [c.name, c.name_kana ? `（${c.name_kana}）` : "", c.organization ? ` ${c.organization}` : ""].join("");
        box.appendChild(line);
      }
    } else box.textContent = t(pop.contacts_error ? "contact.unavailable" : "contact.none");
    const history = $("pop-history");
    history.textContent = "";
    for (const c of pop.calls || []) {
      const li = document.createElement("li");
      const when = c.start_time ? new Date(c.start_time).toLocaleString(lang === "ja" ? "ja-JP" : "en-GB") : "";
      li.textContent = `${when} ${t("history_kind." + c.kind)} ${c.user_id || ""} `;
      if (c.other_number) li.appendChild(dialButton(c.other_number, c.other_number));
      history.appendChild(li);
    }
    if (!(pop.calls || []).length) {
      const li = document.createElement("li");
      li.textContent = t(pop.calls_error ? "history.unavailable" : "history.none");
      history.appendChild(li);
    }
    $("pop-script-box").hidden = !pop.script;
    $("pop-script-title").textContent = pop.script ? pop.script.title : "";
    $("pop-script").textContent = pop.script ? pop.script.text : "";
  }

  // -- FAQ and phonebook ---------------------------------------------------------------------
  async function searchFaq(event) {
    event.preventDefault();
    const q = $("faq-q").value.trim();
    const list = $("faq-results");
    list.textContent = "";
    if (!q) return;
    const found = await act("GET", `/faq?${new URLSearchParams({ q })}`);
    if (!found) return;
    if (!found.items.length) { const li = document.createElement("li"); li.textContent = t("faq.none"); list.appendChild(li); }
    for (const a of found.items) {
      const li = document.createElement("li");
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = a.title;
      const body = document.createElement("p");
      body.textContent = a.body;
      details.append(summary, body);
      li.appendChild(details);
      list.appendChild(li);
    }
  }
  function dial(number) {
    const digits = String(number).replace(/[^0-9*#+]/g, "");
    if (!ua || !softphone || !ua.isRegistered() || session) { notice(t("dial.unavailable")); return false; }
    if (!/^[0-9*#+]{1,32}$/.test(digits)) return false;
    ua.call(`sip:${digits}@${softphone.domain}`, callOptions());
    return true;
  }
  function dialButton(number, label) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "dial"; b.dataset.number = number;
    b.textContent = `${t("dial")} ${number}`;
    b.setAttribute("aria-label", `${t("dial")} ${label}`);
    b.addEventListener("click", () => dial(number));
    return b;
  }
  async function searchBook(event) {
    event.preventDefault();
    const q = $("book-q").value.trim();
    const list = $("book-results");
    list.textContent = "";
    if (!q) return;
    const found = await act("GET", `/phonebook?${new URLSearchParams({ q })}`);
    if (!found) return;
    if (!found.items.length) { const li = document.createElement("li"); li.textContent = t("book.none"); list.appendChild(li); }
    for (const c of found.items) {
      const li = document.createElement("li");
      li.className = "entry";
      const name = document.createElement("span");
      name.textContent = c.name + (c.organization ? ` (${c.organization})` : "");
      li.appendChild(name);
      for (const n of c.numbers || []) li.appendChild(dialButton(n, `${c.name} ${n}`));
      list.appendChild(li);
    }
  }

  // JsSIP refuses a re-INVITE while the previous offer/answer is still settling (hold() or unhold()
  // returns false): try again for a few seconds rather than let the click do nothing.
  function toggleHold(target, tries) {
    if (!target || target !== session) return;
    const sent = held ? target.unhold() : target.hold();
    if (!sent && tries < 20) setTimeout(() => toggleHold(target, tries + 1), 500);
    else if (!sent) notice(t("hold.failed"));
  }
  function clearOffer() {
    $("pop").dataset.call = "";
    $("pop-none").hidden = false;
    $("pop-details").hidden = true;
  }

  // -- the feed (SSE read with fetch: it carries the token) ----------------------------------
  function showFeed(state) {
    const el = $("feed");
    el.dataset.state = state || "off";
    el.textContent = t("feed." + (state || "off"));
  }
  function scheduleFeed() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(openFeed, retry);
    retry = Math.min(retry * 2, 10000);
  }
  async function openFeed() {
    if (feedAbort) feedAbort.abort();
    if (!me.token && !me.cookie) return;
    const controller = new AbortController();
    feedAbort = controller;
    let reply;
    try {
      reply = await fetch(`/api/v1/tenants/${encodeURIComponent(me.tenant)}/agents/${encodeURIComponent(me.agent)}/events`,
        { headers: Object.assign(auth(false), { Accept: "text/event-stream" }), signal: controller.signal,
          cache: "no-store" });
    } catch (e) { if (!controller.signal.aborted) { showFeed("lost"); scheduleFeed(); } return; }
    if (!reply.ok || !reply.body) { showFeed("lost"); if (reply.status !== 401 && reply.status !== 403) scheduleFeed(); return; }
    const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          let name = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (data) onFeed(name, JSON.parse(data));
        }
      }
    } catch (e) { /* dropped: reconnect below */ }
    if (controller.signal.aborted) return;
    showFeed("lost");
    scheduleFeed();
  }
  function onFeed(name, data) {
    if (name === "agent") {
      view = data.view; retry = 1000; showFeed("live"); renderView();
      if (data.cause === "disposition_saved" && $("pop").dataset.call === data.call_uuid) clearOffer();
      if (view.state === "logged_out") signedOut();
    } else if (name === "offer") {
      showOffer(data);
    } else if (name === "offer_ended") {
      if ($("pop").dataset.call === data.call_uuid && !(view && view.call_id === data.call_uuid)) clearOffer();
    }
  }

  // -- the softphone -------------------------------------------------------------------------
  function showPhone(state, reason) {
    const el = $("phone-status");
    el.dataset.state = state || "off";
    el.textContent = t("phone." + (state || "off"));
    $("phone-reason").textContent = reason || "";
  }
  function showCall(state) {
    callState = state;
    const el = $("call-status");
    el.dataset.state = state;
    el.textContent = t("call." + state) + (state === "talking" && held ? ` (${t("call.held")})` : "");
    const live = state === "talking";
    $("answer").disabled = state !== "incoming";
    $("hangup").disabled = !(state === "incoming" || state === "outgoing" || live);
    for (const id of ["hold", "mute", "dtmf-send"]) $(id).disabled = !live;
    document.querySelectorAll("#keypad [data-digit]").forEach((b) => { b.disabled = !live; });
    $("transfer").disabled = !live || !!consult;
    $("consult").disabled = !live || !!consult;
    $("hold").setAttribute("aria-pressed", String(held));
    $("mute").setAttribute("aria-pressed", String(muted));
  }
  const callOptions = () => ({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] },
                               rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false } });
  function loadLibrary(src) {
    return new Promise((resolve, reject) => {
      if (window.JsSIP) { resolve(); return; }
      const script = document.createElement("script");
      script.src = src; script.onload = () => (window.JsSIP ? resolve() : reject(new Error("JsSIP missing")));
      script.onerror = () => reject(new Error(src));
      document.head.appendChild(script);
    });
  }
  function attachAudio(pc) {
    pc.addEventListener("track", (e) => { $("remote").srcObject = e.streams[0]; });
  }
  function onSession(e) {
    const s = e.session;
    if (consultStarting && e.originator === "local") { wireConsult(s); return; }
    if (session && session !== s) { s.terminate({ status_code: 486 }); return; }   // one call at a time
    session = s; held = false; muted = false;
    showConsult("idle");
    if (s.connection) attachAudio(s.connection); else s.on("peerconnection", (x) => attachAudio(x.peerconnection));
    showCall(e.originator === "remote" ? "incoming" : "outgoing");
    if (e.originator === "remote") $("answer").focus();
    s.on("confirmed", () => showCall("talking"));
    s.on("accepted", () => showCall("talking"));
    s.on("hold", () => { held = true; showCall("talking"); });
    s.on("unhold", () => { held = false; showCall("talking"); });
    const end = () => {
      if (session !== s) return;
      session = null; held = false; muted = false;
      if (consult) { try { consult.terminate(); } catch (_) { /* gone */ } }
      if (consultState === "completing") showConsult("done");
      showCall("ended");
    };
    s.on("ended", end);
    s.on("failed", end);
  }
  // -- transfers ---------------------------------------------------------------------------------
  function transferTarget() {
    const target = $("transfer-to").value.trim();
    if (TARGET.test(target)) { $("transfer-to").removeAttribute("aria-invalid"); return target; }
    $("transfer-to").setAttribute("aria-invalid", "true");
    showErrors([{ text: t("error.transfer_to"), field: "transfer-to" }]);
    return "";
  }
  function blindTransfer() {
    if (!session || !softphone || consult) return;
    const target = transferTarget();
    if (!target) return;
    showErrors([]);
    session.refer(`sip:${target}@${softphone.domain}`, { eventHandlers: {
      requestFailed: () => notice(t("transfer.failed")), failed: () => notice(t("transfer.failed")) } });
  }
  function showConsult(state) {
    consultState = state;
    $("consult-box").hidden = state === "idle";
    const el = $("consult-status");
    el.dataset.state = state;
    el.textContent = state === "idle" ? "" : t("consult." + state);
    $("consult-complete").disabled = state !== "talking";
    $("consult-cancel").disabled = !(state === "calling" || state === "talking");
    if (callState !== "idle") showCallButtons();
  }
  function showCallButtons() {
    const live = callState === "talking";
    $("transfer").disabled = !live || !!consult;
    $("consult").disabled = !live || !!consult;
  }
  // consult: the caller on hold (hold music), a second call to the target
  function startConsult() {
    if (!session || consult || !ua || !softphone) return;
    const target = transferTarget();
    if (!target) return;
    showErrors([]);
    if (!held) toggleHold(session, 0);
    $("consult-target").textContent = target;
    consultStarting = true;
    try { ua.call(`sip:${target}@${softphone.domain}`, callOptions()); } finally { consultStarting = false; }
    $("consult-cancel").focus();
  }
  function wireConsult(s) {
    consult = s;
    showConsult("calling");
    const attach = (pc) => pc.addEventListener("track", (e) => { $("consult-remote").srcObject = e.streams[0]; });
    if (s.connection) attach(s.connection); else s.on("peerconnection", (x) => attach(x.peerconnection));
    const talking = () => { if (consult === s && consultState === "calling") { showConsult("talking"); $("consult-complete").focus(); } };
    s.on("accepted", talking);
    s.on("confirmed", talking);
    const end = () => {
      if (consult !== s) return;
      consult = null;
      if (consultState === "completing" || consultState === "done") { showConsult("done"); return; }
      // the target hung up, was busy or the agent cancelled: back to the caller
      showConsult(consultState === "calling" ? "failed" : "cancelled");
      if (session && held) toggleHold(session, 0);
      if (session) $("hold").focus();
    };
    s.on("ended", end);
    s.on("failed", end);
  }
  // complete: REFER on the caller's call with Replaces naming the consultation call (RFC 3891):
  // FreeSWITCH bridges the caller to the target and ends both of the agent's calls
  function completeConsult() {
    if (!session || !consult || consultState !== "talking") return;
    showConsult("completing");
    session.refer(consult.remote_identity.uri.toString(), { replaces: consult, eventHandlers: {
      requestFailed: () => { showConsult("talking"); notice(t("transfer.failed")); },
      failed: () => { if (consultState === "completing") { showConsult("talking"); notice(t("transfer.failed")); } } } });
  }
  function cancelConsult() {
    if (!consult) return;
    showConsult("cancelled");
    const s = consult;
    consult = null;
    try { s.terminate(); } catch (_) { /* gone */ }
    if (session && held) toggleHold(session, 0);
    showCallButtons();
    $("hold").focus();
  }

  async function startPhone(password) {
    if (!password) { showPhone("desk"); return; }
    showPhone("connecting");
    try {
      softphone = await api("GET", `/softphone?device=${encodeURIComponent(me.device)}`);
    } catch (e) { showPhone("unavailable", e.message); return; }
    if (!softphone.available) { showPhone("unavailable", softphone.reason); return; }
    try { await loadLibrary(softphone.library); } catch (e) { showPhone("unavailable", String(e.message)); return; }
    ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(softphone.ws_url)], uri: softphone.uri, password,
                        register: true, session_timers: false, register_expires: 300, user_agent: "Hibiki desktop" });
    ua.on("registered", () => showPhone("registered"));
    ua.on("unregistered", () => showPhone("off"));
    ua.on("registrationFailed", (e) => showPhone("failed", e.cause || ""));
    ua.on("newRTCSession", onSession);
    ua.start();
  }
  function stopPhone() {
    if (consult) { try { consult.terminate(); } catch (_) { /* gone */ } consult = null; }
    showConsult("idle");
    if (session) { try { session.terminate(); } catch (_) { /* gone */ } }
    session = null;
    if (ua) { ua.stop(); ua = null; }
    showPhone("off");
    showCall("idle");
  }

  // -- sign-in and sign-out ------------------------------------------------------------------
  async function signIn(event) {
    event.preventDefault();
    const form = $("signin");
    if (!form.reportValidity()) return;
    me.tenant = $("tenant").value.trim(); me.agent = $("agent").value.trim();
    me.token = me.cookie ? "" : $("token").value.trim(); me.device = $("device").value.trim();
    const password = $("sip-password").value;
    store.setItem("hibiki.desktop", JSON.stringify({ tenant: me.tenant, agent: me.agent, token: me.token, device: me.device }));
    const result = await act("POST", "/login", { device: me.device, ready: false });
    if (!result) return;
    $("sip-password").value = ""; $("token").value = "";
    form.hidden = true;
    $("desk").hidden = false;
    $("ready").focus();
    openFeed();
    loadMenus();
    startPhone(password);
  }
  function signedOut() {
    if (feedAbort) { feedAbort.abort(); feedAbort = null; }
    stopPhone();
    clearOffer();
    $("desk").hidden = true;
    $("signin").hidden = false;
    showFeed("off");
    view = null;
  }

  // -- wiring ----------------------------------------------------------------------------------
  function wire() {
    $("lang").addEventListener("change", () => { lang = $("lang").value; localStorage.setItem("hibiki.desktop.lang", lang); translate(); });
    $("signin").addEventListener("submit", signIn);
    $("faq-form").addEventListener("submit", searchFaq);
    $("book-form").addEventListener("submit", searchBook);
    $("ready").addEventListener("click", () => act("POST", "/state", { state: "ready" }));
    $("not-ready").addEventListener("click", () => act("POST", "/state", { state: "not_ready", reason: $("not-ready-reason").value }));
    $("break").addEventListener("click", () => act("POST", "/state", { state: "break", reason: $("break-reason").value }));
    $("logout").addEventListener("click", async () => { if (await act("POST", "/logout")) signedOut(); });
    $("answer").addEventListener("click", () => { if (session) session.answer(callOptions()); });
    $("hangup").addEventListener("click", () => { if (session) session.terminate(); });
    $("hold").addEventListener("click", () => toggleHold(session, 0));
    $("mute").addEventListener("click", () => {
      if (!session) return;
      if (muted) session.unmute({ audio: true }); else session.mute({ audio: true });
      muted = !muted; showCall(callState);
    });
    $("dtmf-send").addEventListener("click", () => {
      const tones = $("dtmf").value.trim();
      if (!session || !/^[0-9*#]{1,32}$/.test(tones)) return;
      session.sendDTMF(tones, { transportType: "RFC2833", duration: 120, interToneGap: 80 });
      $("dtmf").value = "";
    });
    $("keypad").addEventListener("click", (e) => {
      const digit = e.target.closest("[data-digit]");
      if (!digit || !session || callState !== "talking") return;
      session.sendDTMF(digit.dataset.digit, { transportType: "RFC2833", duration: 120, interToneGap: 80 });
    });
    $("transfer").addEventListener("click", blindTransfer);
    $("consult").addEventListener("click", startConsult);
    $("consult-complete").addEventListener("click", completeConsult);
    $("consult-cancel").addEventListener("click", cancelConsult);
    $("wrap").addEventListener("submit", async (event) => {
      event.preventDefault();
      const caseType = $("case-type").value;
      if (!caseType) {
        $("case-type-error").textContent = t("error.case_type"); $("case-type-error").hidden = false;
        showErrors([{ text: t("error.case_type"), field: "case-type" }]);
        return;
      }
      const saved = await act("POST", "/disposition", { call_uuid: $("wrap").dataset.call, case_type: caseType,
                                                        note: $("note").value });
      if (saved) { $("case-type").value = ""; $("note").value = ""; clearOffer(); notice(t("saved")); }
    });
    // keyboard: Alt+A answers, Alt+H hangs up (as well as Tab to the buttons)
    document.addEventListener("keydown", (e) => {
      if (!e.altKey) return;
      if (e.key === "a" && !$("answer").disabled) { e.preventDefault(); $("answer").click(); }
      if (e.key === "h" && !$("hangup").disabled) { e.preventDefault(); $("hangup").click(); }
      if (e.key === "t" && !$("consult").disabled) { e.preventDefault(); $("consult").click(); }
    });
    // a token and names handed over in the fragment (never sent to a server): taken, then removed
    const given = new URLSearchParams(location.hash.slice(1));
    const kept = JSON.parse(store.getItem("hibiki.desktop") || "{}");
    for (const key of ["tenant", "agent", "token", "device"]) {
      const value = given.get(key) || kept[key] || new URLSearchParams(location.search).get(key) || "";
      if (value) $(key).value = value;
    }
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    if (!$("token").value) findSession();
  }
  // signed in at the console: the session says who we are; no token to paste
  async function findSession() {
    let reply;
    try { reply = await fetch("/api/v1/desktop/session", { cache: "no-store" }); } catch (_) { return; }
    if (!reply.ok) return;
    const who = await reply.json();
    if (!who.via_cookie || who.tenant === "*") return;
    me.cookie = true;
    $("tenant").value = who.tenant; $("agent").value = who.agent_id;
    $("token").required = false;
    $("token").closest("form").querySelector("label[for=token]").hidden = true;
    $("token").hidden = true;
  }

  // what the tests read (the call's RTP counters); nothing here changes the page
  window.hibikiDesktop = {
    async stats() {
      const out = { sent: 0, received: 0, codec: "" };
      if (!session || !session.connection) return out;
      const report = await session.connection.getStats();
      const codecs = {};
      report.forEach((r) => { if (r.type === "codec") codecs[r.id] = r.mimeType; });
      report.forEach((r) => {
        if (r.type === "outbound-rtp" && r.kind === "audio") { out.sent += r.packetsSent; out.codec = codecs[r.codecId] || ""; }
        if (r.type === "inbound-rtp" && r.kind === "audio") out.received += r.packetsReceived;
      });
      return out;
    },
  };

  wire();
  translate();
  showPhone("off");
  showCall("idle");
})();
