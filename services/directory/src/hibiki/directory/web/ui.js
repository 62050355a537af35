// Small helpers the console's sections share: the confirmation dialog, form fields with labels
// and error text, tables with captions, and showing an API refusal at the field at fault.
import {el, t, say} from "/ui/hibiki.js";

let seq = 0;
export function uid(prefix) { seq += 1; return `${prefix}-${seq}`; }

// A labelled control. spec: {name, type, label, options: [[value, labelKey]], required, hint, value}
export function field(spec, value) {
  const id = uid("f-" + spec.name);
  const hintId = id + "-hint", errId = id + "-err";
  const described = [spec.hint ? hintId : null, errId].filter(Boolean).join(" ");
  let control;
  if (spec.type === "select") {
    control = el("select", {id, name: spec.name, "aria-describedby": described, required: spec.required || null});
    for (const [v, key] of spec.options) control.append(el("option", {value: v}, key ? t(key) : v));
    control.value = value ?? spec.default ?? (spec.options[0] || [""])[0];
  } else if (spec.type === "checkbox") {
    control = el("input", {id, name: spec.name, type: "checkbox", "aria-describedby": described});
    control.checked = value ?? spec.default ?? false;
  } else if (spec.type === "multi") {
    control = el("select", {id, name: spec.name, multiple: true, size: "6", "aria-describedby": described});
    for (const [v, text] of spec.options) {
      const opt = el("option", {value: v}, text);
      opt.selected = (value || []).includes(v);
      control.append(opt);
    }
  } else if (spec.type === "json" || spec.type === "textarea") {
    control = el("textarea", {id, name: spec.name, class: spec.type === "json" ? "json" : null, spellcheck: "false",
      "aria-describedby": described, required: spec.required || null});
    control.value = spec.type === "json" ? JSON.stringify(value ?? spec.default ?? {}, null, 2) : (value ?? "");
  } else {
    control = el("input", {id, name: spec.name, type: spec.type || "text", "aria-describedby": described,
      required: spec.required || null, autocomplete: spec.type === "password" ? "new-password" : "off",
      inputmode: spec.inputmode || null, min: spec.min ?? null, max: spec.max ?? null});
    if (spec.suggest) {                    // ids to choose from, each with a readable name
      const listId = id + "-list";
      control.setAttribute("list", listId);
      spec._datalist = el("datalist", {id: listId}, ...spec.suggest.map(([v, text]) => el("option", {value: v}, text)));
    }
    const shown = value ?? spec.default;
    if (shown !== undefined && shown !== null) control.value = Array.isArray(shown) ? shown.join(", ") : String(shown);
  }
  const label = el("label", {for: id}, t(spec.label || "f." + spec.name), spec.required ? el("span", {class: "req"}, " " + t("c.required")) : null);
  const box = el("div", {class: "field" + (spec.type === "checkbox" ? " check" : ""), "data-field": spec.name},
    ...(spec.type === "checkbox" ? [control, label] : [label, control]),
    spec.hint ? el("span", {class: "hint", id: hintId}, t(spec.hint)) : null,
    el("span", {class: "field-error", id: errId, "aria-live": "polite"}),
    spec._datalist || null);
  box.control = control;
  return box;
}

export function read(box, spec) {
  const c = box.control;
  if (spec.type === "checkbox") return c.checked;
  if (spec.type === "multi") return [...c.selectedOptions].map((o) => o.value);
  if (spec.type === "number") return c.value === "" ? null : Number(c.value);
  if (spec.type === "list") return c.value.split(/[,、\n]/).map((s) => s.trim()).filter(Boolean);
  if (spec.type === "json") return c.value.trim() === "" ? null : JSON.parse(c.value);
  if (spec.type === "select" && c.value === "" && spec.nullable) return null;
  return c.value.trim();
}

// Show an API refusal: the field's own error text, aria-invalid, focus on it; the status line.
export function showError(form, status, exc) {
  form.querySelectorAll("[aria-invalid]").forEach((c) => c.removeAttribute("aria-invalid"));
  form.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
  const text = exc.describe ? exc.describe() : String(exc);
  say(status, text, true);
  const name = exc.field ? String(exc.field).split(".")[0] : null;
  const box = name ? form.querySelector(`[data-field="${CSS.escape(name)}"]`) : null;
  if (box) {
    box.control.setAttribute("aria-invalid", "true");
    box.querySelector(".field-error").textContent = exc.message;
    box.control.focus();
  }
}

export function table(captionKey, headers, rows, extra = {}) {
  const tbl = el("table", {class: "list", ...extra}, el("caption", {}, t(captionKey)));
  const head = tbl.createTHead().insertRow();
  for (const h of headers) head.append(el("th", {scope: "col"}, h));
  const body = tbl.createTBody();
  for (const cells of rows) {
    const tr = body.insertRow();
    cells.forEach((c, i) => tr.append(i === 0 ? el("th", {scope: "row"}, c) : el("td", {class: c instanceof Node && c.dataset && c.dataset.actions ? "actions" : null}, c)));
  }
  return el("div", {class: "table-wrap"}, tbl);
}

// The confirmation dialog: resolves true when confirmed (Escape or Cancel: false).
export function ask(text, yesKey) {
  const dialog = document.getElementById("ask");
  document.getElementById("ask-text").textContent = text;
  const yes = document.getElementById("ask-yes"), no = document.getElementById("ask-no");
  yes.textContent = t(yesKey);
  return new Promise((resolve) => {
    const done = (answer) => { yes.onclick = no.onclick = null; dialog.onclose = null; if (dialog.open) dialog.close(); resolve(answer); };
    yes.onclick = () => done(true);
    no.onclick = () => done(false);
    dialog.onclose = () => done(false);
    dialog.showModal();
    no.focus();
  });
}

export function actions(...buttons) {
  const span = el("span", {dataset: {actions: "1"}}, ...buttons);
  return span;
}
