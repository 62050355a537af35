// A list of one admin API resource with its add / edit / delete form (users, devices, ring groups,
// numbers, phonebook, gateways, ...). spec: {resource, title, name(item), columns: [[headerKey, item => text]],
// fields: [field spec], prepare(ctx) -> fields (options from other resources), created(ctx, item, sent, root),
// editOnly: true when some fields ({editOnly: true}) are shown only when changing an item}
import {api, el, say, t} from "/ui/hibiki.js";
import {actions, ask, field, read, showError, table} from "./ui.js";

export async function listAll(ctx, resource) {
  const got = await api(`${ctx.base}/${resource}?limit=1000`);
  return got.items;
}

export function crud(spec) {
  return async function render(ctx, root, status) {
    const allFields = spec.prepare ? await spec.prepare(ctx) : spec.fields;
    const items = await listAll(ctx, spec.resource);
    if (spec.decorate) spec.decorate(items);
    const formBox = el("div", {id: `${spec.resource}-form-box`});
    const addButton = el("button", {type: "button", id: `${spec.resource}-new`, onclick: () => openForm(null)}, t("c.new"));
    const rows = items.map((item) => [
      ...spec.columns.map(([, get]) => String(get(item) ?? "")),
      actions(
        el("button", {type: "button", class: "secondary", "aria-label": `${t("hb.edit")}: ${spec.name(item)}`,
                      onclick: () => openForm(item)}, t("hb.edit")),
        el("button", {type: "button", class: "secondary", "aria-label": `${t("hb.delete")}: ${spec.name(item)}`,
                      onclick: () => remove(item)}, t("hb.delete")))]);
    root.replaceChildren(
      el("div", {class: "controls"}, addButton, el("span", {}, t("c.count", {n: items.length}))),
      formBox,
      table(spec.title, [...spec.columns.map(([key]) => t(key)), t("hb.actions")], rows, {id: `${spec.resource}-list`}));

    function openForm(item) {
      const fields = (spec.editOnly ? allFields.filter((f) => item || !f.editOnly) : allFields);
      const boxes = fields.map((f) => {
        const box = field(f, item ? item[f.name] : undefined);
        if (item && f.createOnly) box.control.disabled = true;
        return box;
      });
      const heading = el("h3", {id: `${spec.resource}-form-title`, tabindex: "-1"},
        item ? t("c.edit.title", {name: spec.name(item)}) : t("c.new.title", {what: t(spec.title)}));
      const form = el("form", {class: "item-form", id: `${spec.resource}-form`, "aria-labelledby": heading.id, novalidate: true},
        ...boxes,
        ...(spec.extraControls ? spec.extraControls(boxes, fields) : []),
        el("div", {class: "actions"},
          el("button", {type: "submit"}, t(item ? "hb.save" : "hb.create")),
          el("button", {type: "button", class: "secondary", onclick: () => { formBox.replaceChildren(); addButton.focus(); }}, t("hb.cancel"))));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const body = {};
        try {
          fields.forEach((f, i) => {
            if (item && f.createOnly) return;
            let value;
            try { value = read(boxes[i], f); } catch (exc) { throw Object.assign(new Error(exc.message), {field: f.name, describe: () => `${t(f.label || "f." + f.name)}: ${exc.message}`}); }
            if ((f.type === "password" || f.omitEmpty || !item) && (value === "" || value === null) && !(item && f.nullable)) return;
            if (item && JSON.stringify(item[f.name] ?? null) === JSON.stringify(value ?? null)) return;
            if (value === "" && f.nullable) value = null;
            body[f.name] = value;
          });
          const saved = item
            ? await api(`${ctx.base}/${spec.resource}/${encodeURIComponent(item.id)}`, {method: "PATCH", body})
            : await api(`${ctx.base}/${spec.resource}`, {method: "POST", body});
          await render(ctx, root, status);
          say(status, item ? t("hb.saved") : t("c.created", {name: spec.name(saved)}));
          if (!item && spec.created) spec.created(ctx, saved, body, root);
        } catch (exc) {
          showError(form, status, exc);
        }
      });
      formBox.replaceChildren(heading, form);
      heading.focus();
    }

    async function remove(item) {
      if (!(await ask(t("c.delete.ask", {name: spec.name(item)}), "c.yes.delete"))) return;
      try {
        await api(`${ctx.base}/${spec.resource}/${encodeURIComponent(item.id)}`, {method: "DELETE"});
        await render(ctx, root, status);
        say(status, t("hb.deleted"));
      } catch (exc) {
        say(status, exc.describe ? exc.describe() : String(exc), true);
      }
    }
  };
}
