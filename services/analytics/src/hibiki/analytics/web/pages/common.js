// Shared by the report and planning pages: the message catalogue, the token, fetch with it.
"use strict";
const CATALOGUE = JSON.parse(document.getElementById("catalogue").textContent);
let lang = localStorage.getItem("hibiki.lang") || "ja";
function t(key) { return (CATALOGUE.page[lang] || {})[key] || (CATALOGUE.page.ja || {})[key] || key; }
function column(key) { return (CATALOGUE.columns[lang] || {})[key] || key; }
function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach(el => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-label]").forEach(el => el.setAttribute("aria-label", t(el.dataset.i18nLabel)));
  document.title = t(document.body.dataset.title);
}
function setupCommon(onChange) {
  const langSel = document.getElementById("lang");
  langSel.value = lang;
  langSel.addEventListener("change", () => { lang = langSel.value; localStorage.setItem("hibiki.lang", lang); translate(); onChange(); });
  const token = document.getElementById("token");
  token.value = sessionStorage.getItem("hibiki.token") || "";
  token.addEventListener("input", () => sessionStorage.setItem("hibiki.token", token.value.trim()));
  const tenant = document.getElementById("tenant");
  tenant.value = new URLSearchParams(location.search).get("tenant") || sessionStorage.getItem("hibiki.tenant") || "";
  tenant.addEventListener("input", () => sessionStorage.setItem("hibiki.tenant", tenant.value.trim()));
  translate();
}
function status(text, isError) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = isError ? "status error" : "status";
}
async function api(path, params) {
  const tenant = encodeURIComponent(document.getElementById("tenant").value.trim());
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  const response = await fetch(`/api/v1/tenants/${tenant}/${path}?${query}`, {
    headers: {Authorization: "Bearer " + document.getElementById("token").value.trim()}});
  if (!response.ok) {
    let detail = response.status + "";
    try { const e = await response.json(); detail = `${response.status} ${e.error_id}${e.details && e.details.field ? " (" + e.details.field + ")" : ""}: ${e.message}`; } catch (_) {}
    throw new Error(detail);
  }
  return response;
}
function cell(row, text, header) {
  const el = document.createElement(header ? "th" : "td");
  if (header) el.scope = header;
  el.textContent = text;
  row.appendChild(el);
  return el;
}
