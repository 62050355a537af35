// Hibiki's shared front end (served at /ui/hibiki.js by every service; an ES module, no build step).
//   import {t, addMessages, mountHeader, api} from "/ui/hibiki.js";
// - messages: t("key", {var}) from the shared dictionaries (i18n.js) and the page's own (addMessages);
//   elements with data-i18n (text), data-i18n-label (aria-label), data-i18n-placeholder are translated.
// - the language (ja first, en selectable) is kept in localStorage "hibiki.lang"; ?lang=en wins.
// - mountHeader(): the page header (skip link, brand, title, navigation, language switch, logout).
// - api(): fetch on the page's own origin with the session cookie, the CSRF header X-Hibiki-CSRF
//   copied from the cookie hibiki_csrf (double submit), a bearer token if the page was given one
//   (sessionStorage "hibiki.token"), JSON in and out; a refusal throws ApiError(status, errorId, field).
import {COMMON} from "/ui/i18n.js";

export const LANGS = ["ja", "en"];
const messages = {ja: {...COMMON.ja}, en: {...COMMON.en}};
let current = chooseLang();

function chooseLang() {
  const asked = new URLSearchParams(location.search).get("lang") || localStorage.getItem("hibiki.lang");
  return LANGS.includes(asked) ? asked : "ja";
}

export function lang() { return current; }

export function addMessages(dictionaries) {
  for (const l of LANGS) Object.assign(messages[l], dictionaries[l] || {});
}

export function t(key, vars) {
  const text = messages[current][key] ?? messages.ja[key] ?? key;
  return vars ? text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all)) : text;
}

export function translate(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-label]").forEach((el) => el.setAttribute("aria-label", t(el.dataset.i18nLabel)));
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  if (root === document) {
    document.documentElement.lang = current;
    if (document.body.dataset.title) document.title = t(document.body.dataset.title) + " — Hibiki";
  }
}

export function setLang(l) {
  if (!LANGS.includes(l)) return;
  current = l;
  localStorage.setItem("hibiki.lang", l);
  translate();
  document.dispatchEvent(new CustomEvent("hibiki:lang", {detail: l}));
}

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.errorId = (body && body.error_id) || "http-" + status;
    this.details = (body && body.details) || {};
    this.field = this.details.field || null;
    this.body = body;
  }
  // The sentence to show: the field at fault and the server's message.
  describe() {
    if (this.status === 401) return t("hb.error.401");
    if (this.status === 0) return t("hb.error.network");
    const message = `${this.message} [${this.errorId}]`;
    return this.field ? t("hb.error.field", {field: this.field, message}) : t("hb.error", {message});
  }
}

export async function api(path, {method = "GET", body, headers = {}, token, raw = false} = {}) {
  const h = new Headers(headers);
  const csrf = cookie("hibiki_csrf");
  if (csrf) h.set("X-Hibiki-CSRF", csrf);
  const bearer = token ?? sessionStorage.getItem("hibiki.token");
  if (bearer) h.set("Authorization", "Bearer " + bearer);
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData) && typeof body !== "string") {
    payload = JSON.stringify(body);
    h.set("Content-Type", "application/json");
  }
  let response;
  try {
    response = await fetch(path, {method, headers: h, body: payload, credentials: "same-origin"});
  } catch (exc) {
    throw new ApiError(0, {error_id: "network", message: String(exc)});
  }
  if (!response.ok) {
    let err = null;
    try { err = await response.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, err);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}
export {el};

// The header every page shares. nav: [{href, key}], the current one marked aria-current="page".
// Returns the header element; the page's <main id="main"> is the skip link's target.
export function mountHeader({title, nav = [], user = null, onLogout = null} = {}) {
  const here = location.pathname;
  const select = el("select", {id: "lang", onchange: (e) => setLang(e.target.value)},
    el("option", {value: "ja", lang: "ja"}, "日本語"), el("option", {value: "en", lang: "en"}, "English"));
  select.value = current;
  const links = nav.map((item) => el("li", {}, el("a", {href: item.href, "data-i18n": item.key,
    "aria-current": here === item.href || here.startsWith(item.href + "/") ? "page" : null})));
  const header = el("header", {class: "hb-header"},
    el("a", {class: "hb-skip", href: "#main", "data-i18n": "hb.skip"}),
    el("span", {class: "hb-brand", "data-i18n": "hb.brand"}),
    el("h1", {id: "hb-title", "data-i18n": title}),
    links.length ? el("nav", {class: "hb-nav", "data-i18n-label": "hb.nav"}, el("ul", {}, ...links)) : null,
    el("label", {class: "inline"}, el("span", {"data-i18n": "hb.lang"}), select),
    user ? el("span", {class: "hb-who", id: "hb-who"}, t("hb.user", {name: user})) : null,
    onLogout ? el("button", {type: "button", id: "hb-logout", class: "secondary", "data-i18n": "hb.logout", onclick: onLogout}) : null);
  document.body.prepend(header);
  if (title) document.body.dataset.title = title;
  translate();
  document.addEventListener("hibiki:lang", () => {
    select.value = current;
    const who = document.getElementById("hb-who");
    if (who && user) who.textContent = t("hb.user", {name: user});
  });
  return header;
}

// Show a status line (role="status" element) as information or as an error.
export function say(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle("error", Boolean(isError));
}
