// Queues, agents and skills: the ACD's own API (PUT as a whole), reached on this origin at the
// same paths (the directory passes /api/v1/tenants/{t}/queues|agents to the ACD; an ingress in
// front of the services may route them there itself).
import {api, el, say, t} from "/ui/hibiki.js";
import {actions, ask, field, read, showError, table} from "./ui.js";

function section(kind, idKey, defKey, template) {
  return async function render(ctx, root, status) {
    const got = await api(`${ctx.base}/${kind}`);
    const items = got.items || got[kind] || (Array.isArray(got) ? got : []);
    const idOf = (item) => item.id || item[kind === "queues" ? "queue_id" : "agent_id"];
    const formBox = el("div");
    const open = (item) => {
      const idSpec = {name: "id", label: idKey, required: true}, defSpec = {name: "definition", label: defKey, type: "json"};
      const idBox = field(idSpec, item ? idOf(item) : ""), defBox = field(defSpec, item || template);
      if (item) idBox.control.disabled = true;
      const form = el("form", {class: "item-form", id: `${kind}-form`, "aria-label": t("c." + kind), novalidate: true}, idBox, defBox,
        el("div", {class: "actions"}, el("button", {type: "submit"}, t("hb.save"))));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const id = read(idBox, idSpec), body = read(defBox, defSpec);
          await api(`${ctx.base}/${kind}/${encodeURIComponent(id)}`, {method: "PUT", body});
          await render(ctx, root, status);
          say(status, t("hb.saved"));
        } catch (exc) { showError(form, status, exc); }
      });
      formBox.replaceChildren(form);
      (item ? defBox : idBox).control.focus();
    };
    const rows = items.map((item) => [idOf(item), kind === "queues" ? item.strategy || "" : (item.queues || []).join(", "),
      Object.entries(item.skills || {}).map(([k, v]) => `${k}:${v}`).join(", "),
      actions(el("button", {type: "button", class: "secondary", "aria-label": `${t("hb.edit")}: ${idOf(item)}`, onclick: () => open(item)}, t("hb.edit")),
              el("button", {type: "button", class: "secondary", "aria-label": `${t("hb.delete")}: ${idOf(item)}`, onclick: async () => {
                if (!(await ask(t("c.delete.ask", {name: idOf(item)}), "c.yes.delete"))) return;
                try { await api(`${ctx.base}/${kind}/${encodeURIComponent(idOf(item))}`, {method: "DELETE"}); await render(ctx, root, status); }
                catch (exc) { say(status, exc.describe(), true); }
              }}, t("hb.delete")))]);
    root.replaceChildren(el("p", {class: "notice"}, t("q.acd")),
      el("div", {class: "controls"}, el("button", {type: "button", id: `${kind}-new`, onclick: () => open(null)}, t("c.new"))), formBox,
      table("c." + kind, [t(idKey), t(kind === "queues" ? "q.strategy" : "a.queues"), t("q.skills"), t("hb.actions")], rows, {id: `${kind}-list`}));
  };
}

export const queues = section("queues", "q.id", "q.definition",
  {strategy: "longest_idle", skills: {}, priority: 0, service_level_seconds: 15, offer_timeout_seconds: 20});
export const agents = section("agents", "a.id", "a.definition", {skills: {}, queues: []});
