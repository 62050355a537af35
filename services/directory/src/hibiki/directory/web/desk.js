// The agent desktop's content (the ACD's, reached on this origin: the directory passes
// /queues/{q}/script, /faq[/{id}] and /desk_settings to the ACD): each queue's talk script, the
// tenant's FAQ articles, and the menus of the desktop (case types, not-ready and break reasons).
import {api, el, say, t} from "/ui/hibiki.js";
import {actions, ask, field, read, showError, table} from "./ui.js";

const MENUS = ["case_types", "not_ready_reasons", "break_reasons"];

async function scriptOf(ctx, queueId) {
  try { return await api(`${ctx.base}/queues/${encodeURIComponent(queueId)}/script`); }
  catch (exc) { if (exc.status === 404) return null; throw exc; }
}

export async function desk(ctx, root, status) {
  const [queuesGot, faqGot, settings] = await Promise.all([
    api(`${ctx.base}/queues`), api(`${ctx.base}/faq`), api(`${ctx.base}/desk_settings`)]);
  const queues = queuesGot.items || queuesGot.queues || [];
  const scripts = await Promise.all(queues.map((q) => scriptOf(ctx, q.id || q.queue_id)));
  const again = async (message, focusId) => {
    await desk(ctx, root, status);
    say(status, message);
    const target = focusId && document.getElementById(focusId);
    if (target) target.focus();
  };

  // Talk scripts, one per queue
  const scriptBox = el("div", {id: "script-form-box"});
  const openScript = (queueId, script) => {
    const titleSpec = {name: "title", label: "k.script.title"}, textSpec = {name: "text", label: "k.script.text", type: "textarea", required: true};
    const titleBox = field(titleSpec, script ? script.title : ""), textBox = field(textSpec, script ? script.text : "");
    const heading = el("h4", {id: "script-form-title", tabindex: "-1"}, t("k.script.edit", {queue: queueId}));
    const form = el("form", {class: "item-form", id: "script-form", "aria-labelledby": heading.id, novalidate: true}, titleBox, textBox,
      el("div", {class: "actions"},
        el("button", {type: "submit"}, t("hb.save")),
        script ? el("button", {type: "button", class: "danger", id: "script-delete", onclick: async () => {
          if (!(await ask(t("k.script.delete.ask", {queue: queueId}), "c.yes.delete"))) return;
          try { await api(`${ctx.base}/queues/${encodeURIComponent(queueId)}/script`, {method: "DELETE"}); await again(t("hb.deleted"), `script-edit-${queueId}`); }
          catch (exc) { showError(form, status, exc); }
        }}, t("k.script.delete")) : null,
        el("button", {type: "button", class: "secondary", onclick: () => { scriptBox.replaceChildren(); document.getElementById(`script-edit-${queueId}`).focus(); }}, t("hb.cancel"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const text = read(textBox, textSpec);
        if (!text) throw Object.assign(new Error(t("k.required")), {field: "text", describe: () => `${t("k.script.text")}: ${t("k.required")}`});
        await api(`${ctx.base}/queues/${encodeURIComponent(queueId)}/script`, {method: "PUT", body: {title: read(titleBox, titleSpec), text}});
        await again(t("hb.saved"), `script-edit-${queueId}`);
      } catch (exc) { showError(form, status, exc); }
    });
    scriptBox.replaceChildren(heading, form);
    heading.focus();
  };
  const scriptRows = queues.map((q, i) => {
    const id = q.id || q.queue_id, script = scripts[i];
    return [id, script ? script.title || t("k.script.untitled") : t("k.script.none"),
      actions(el("button", {type: "button", class: "secondary", id: `script-edit-${id}`, "aria-label": t("k.script.edit", {queue: id}),
                            onclick: () => openScript(id, script)}, t("hb.edit")))];
  });

  // FAQ articles
  const faqBox = el("div", {id: "faq-form-box"});
  const articles = faqGot.items || [];
  const openArticle = (article) => {
    const specs = [{name: "title", label: "k.faq.title", required: true}, {name: "body", label: "k.faq.body", type: "textarea"},
                   {name: "tags", label: "k.faq.tags", type: "list", hint: "k.faq.tags.hint"}];
    const boxes = specs.map((s) => field(s, article ? article[s.name] : undefined));
    const heading = el("h4", {id: "faq-form-title", tabindex: "-1"}, article ? t("c.edit.title", {name: article.title}) : t("k.faq.new"));
    const form = el("form", {class: "item-form", id: "faq-form", "aria-labelledby": heading.id, novalidate: true}, ...boxes,
      el("div", {class: "actions"}, el("button", {type: "submit"}, t(article ? "hb.save" : "hb.create")),
        el("button", {type: "button", class: "secondary", onclick: () => { faqBox.replaceChildren(); document.getElementById("faq-new").focus(); }}, t("hb.cancel"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const body = Object.fromEntries(specs.map((s, i) => [s.name, read(boxes[i], s)]));
        if (!body.title) throw Object.assign(new Error(t("k.required")), {field: "title", describe: () => `${t("k.faq.title")}: ${t("k.required")}`});
        if (article) await api(`${ctx.base}/faq/${encodeURIComponent(article.id)}`, {method: "PUT", body});
        else await api(`${ctx.base}/faq`, {method: "POST", body});
        await again(article ? t("hb.saved") : t("c.created", {name: body.title}), "faq-new");
      } catch (exc) { showError(form, status, exc); }
    });
    faqBox.replaceChildren(heading, form);
    heading.focus();
  };
  const faqRows = articles.map((a) => [a.title, (a.tags || []).join("、"), a.body.length > 60 ? a.body.slice(0, 60) + "…" : a.body,
    actions(el("button", {type: "button", class: "secondary", "aria-label": `${t("hb.edit")}: ${a.title}`, onclick: () => openArticle(a)}, t("hb.edit")),
            el("button", {type: "button", class: "secondary", "aria-label": `${t("hb.delete")}: ${a.title}`, onclick: async () => {
              if (!(await ask(t("c.delete.ask", {name: a.title}), "c.yes.delete"))) return;
              try { await api(`${ctx.base}/faq/${encodeURIComponent(a.id)}`, {method: "DELETE"}); await again(t("hb.deleted"), "faq-new"); }
              catch (exc) { say(status, exc.describe ? exc.describe() : String(exc), true); }
            }}, t("hb.delete")))]);

  // The desktop's menus: case types, not-ready and break reasons (id, Japanese, English per row)
  const menuForm = el("form", {id: "desk-menus-form", "aria-labelledby": "desk-menus-title", novalidate: true});
  const lists = Object.fromEntries(MENUS.map((m) => [m, (settings[m] || []).map((c) => ({...c}))]));
  const drawMenus = (focus) => {
    const sets = MENUS.map((menu) => {
      const rows = lists[menu].map((c, i) => {
        const n = i + 1, cell = (key, extra = {}) => {
          const input = el("input", {type: "text", value: c[key] || "", "data-path": `${menu}.${i}.${key}`, autocomplete: "off",
            "aria-label": t(`k.col.${key}.of`, {what: t(`k.${menu}`), n}), ...extra});
          input.addEventListener("input", () => { c[key] = input.value; });
          return input;
        };
        return [String(n), cell("id", {pattern: "[A-Za-z0-9_\\-]{1,32}", maxlength: "32", spellcheck: "false"}),
          cell("label", {maxlength: "40"}), cell("label_en", {maxlength: "40", lang: "en"}),
          actions(el("button", {type: "button", class: "secondary", "aria-label": t("k.remove.of", {what: t(`k.${menu}`), n}),
            disabled: lists[menu].length <= 1 ? true : null,
            onclick: () => { lists[menu].splice(i, 1); drawMenus(`${menu}-add`); }}, t("k.remove")))];
      });
      return el("fieldset", {id: `${menu}-set`}, el("legend", {}, t(`k.${menu}`)),
        table(`k.${menu}`, [t("k.col.n"), t("k.col.id"), t("k.col.label"), t("k.col.label_en"), t("hb.actions")], rows, {id: `${menu}-list`}),
        el("p", {class: "field-error", id: `${menu}-error`, "aria-live": "polite"}),
        el("button", {type: "button", class: "secondary", id: `${menu}-add`, disabled: lists[menu].length >= 20 ? true : null, onclick: () => {
          lists[menu].push({id: "", label: "", label_en: ""});
          drawMenus(null);
          menuForm.querySelector(`[data-path="${menu}.${lists[menu].length - 1}.id"]`).focus();
        }}, t("k.add", {what: t(`k.${menu}`)})));
    });
    menuForm.replaceChildren(el("p", {class: "hint"}, t("k.menus.help")), ...sets,
      el("div", {class: "actions"}, el("button", {type: "submit", id: "desk-menus-save"}, t("hb.save")),
        el("button", {type: "button", class: "secondary", id: "desk-menus-default", disabled: settings.stored ? null : true, onclick: async () => {
          if (!(await ask(t("k.menus.default.ask"), "k.menus.default"))) return;
          try { await api(`${ctx.base}/desk_settings`, {method: "DELETE"}); await again(t("hb.saved"), "desk-menus-title"); }
          catch (exc) { say(status, exc.describe ? exc.describe() : String(exc), true); }
        }}, t("k.menus.default"))));
    if (focus) document.getElementById(focus)?.focus();
  };
  menuForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    menuForm.querySelectorAll("[aria-invalid]").forEach((c) => c.removeAttribute("aria-invalid"));
    menuForm.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
    const body = Object.fromEntries(MENUS.map((m) => [m, lists[m].map((c) => ({id: (c.id || "").trim(), label: (c.label || "").trim(), label_en: (c.label_en || "").trim()}))]));
    try {
      await api(`${ctx.base}/desk_settings`, {method: "PUT", body});
      await again(t("hb.saved"), "desk-menus-title");
    } catch (exc) {
      say(status, exc.describe ? exc.describe() : String(exc), true);
      const path = String(exc.field || "");
      const menu = path.split(".")[0];
      const input = menuForm.querySelector(`[data-path="${CSS.escape(path)}"]`) ||
        menuForm.querySelector(`[data-path^="${CSS.escape(path.split(".").slice(0, 2).join("."))}."]`);
      const note = MENUS.includes(menu) ? document.getElementById(`${menu}-error`) : null;
      if (note) note.textContent = exc.message;
      if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", `${menu}-error`); input.focus(); }
    }
  });
  drawMenus(null);

  root.replaceChildren(el("p", {class: "notice"}, t("k.help")),
    el("section", {id: "desk-scripts", "aria-labelledby": "desk-scripts-title"},
      el("h3", {id: "desk-scripts-title", tabindex: "-1"}, t("k.scripts")),
      queues.length ? table("k.scripts", [t("q.id"), t("k.script.title"), t("hb.actions")], scriptRows, {id: "scripts-list"})
                    : el("p", {}, t("k.scripts.none")), scriptBox),
    el("section", {id: "desk-faq", "aria-labelledby": "desk-faq-title"},
      el("h3", {id: "desk-faq-title", tabindex: "-1"}, t("k.faq")),
      el("div", {class: "controls"}, el("button", {type: "button", id: "faq-new", onclick: () => openArticle(null)}, t("c.new")),
        el("span", {}, t("c.count", {n: articles.length}))), faqBox,
      table("k.faq", [t("k.faq.title"), t("k.faq.tags"), t("k.faq.body"), t("hb.actions")], faqRows, {id: "faq-list"})),
    el("section", {id: "desk-menus", "aria-labelledby": "desk-menus-title"},
      el("h3", {id: "desk-menus-title", tabindex: "-1"}, t("k.menus")), menuForm));
}
