// CSV import with the dry run shown row by row (a file is applied whole or not at all), and export.
import {api, el, say, t} from "/ui/hibiki.js";
import {field, read, table} from "./ui.js";

const RESOURCES = [["users", "v.users"], ["devices", "v.devices"], ["dids", "v.dids"], ["phonebook", "v.phonebook"]];

export async function csv(ctx, root, status) {
  const whatSpec = {name: "resource", label: "v.resource", type: "select", options: RESOURCES};
  const whatBox = field(whatSpec, "users");
  const fileSpec = {name: "file", label: "v.file", type: "file"};
  const fileBox = field(fileSpec);
  fileBox.control.accept = ".csv,text/csv";
  const report = el("div", {id: "csv-report", "aria-live": "polite"});
  const apply = el("button", {type: "button", id: "csv-apply", disabled: true}, t("v.apply"));
  const check = el("button", {type: "submit", id: "csv-check"}, t("v.dry_run"));
  // Downloads go through api() (the token or the session cookie), then the browser saves the file.
  const download = async (query) => {
    const r = read(whatBox, whatSpec);
    try {
      const response = await api(`${ctx.base}/${r}.csv${query}`, {raw: true});
      const url = URL.createObjectURL(await response.blob());
      const a = el("a", {href: url, download: `${ctx.tenant}-${r}.csv`});
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (exc) { say(status, exc.describe ? exc.describe() : String(exc), true); }
  };
  const exportLink = el("button", {type: "button", class: "secondary", id: "csv-export", onclick: () => download("")}, t("v.export"));
  const sjisLink = el("button", {type: "button", class: "secondary", id: "csv-export-sjis", onclick: () => download("?encoding=shift_jis")}, t("v.export.sjis"));
  const links = () => {};
  const form = el("form", {class: "item-form", id: "csv-form", "aria-label": t("c.csv")}, whatBox, fileBox,
    el("div", {class: "actions"}, check, apply));
  const reset = () => { apply.disabled = true; report.replaceChildren(); };
  whatBox.control.addEventListener("change", () => { links(); reset(); });
  fileBox.control.addEventListener("change", reset);

  async function send(dryRun) {
    const file = fileBox.control.files[0];
    if (!file) { say(status, t("v.pick"), true); fileBox.control.focus(); return; }
    const resource = read(whatBox, whatSpec);
    try {
      const got = await api(`${ctx.base}/${resource}/import?dry_run=${dryRun}`, {method: "POST", body: file,
        headers: {"Content-Type": "text/csv"}});
      say(status, dryRun ? t("v.ok", {rows: got.rows}) : t("v.applied", {rows: got.rows}));
      report.replaceChildren(el("p", {class: "notice", id: "csv-result"}, dryRun ? t("v.ok", {rows: got.rows}) : t("v.applied", {rows: got.rows})));
      apply.disabled = !dryRun;
      if (!dryRun) fileBox.control.value = "";
    } catch (exc) {
      apply.disabled = true;
      const errors = (exc.details && exc.details.errors) || [];
      if (exc.errorId === "invalid-rows") {
        const bad = new Set(errors.map((e) => e.line)).size;
        say(status, t("v.refused", {bad}), true);
        const tableBox = table("v.report", [t("v.line"), t("v.field"), t("v.problem")],
          errors.map((e) => [String(e.line), e.field || "—", `${e.message} [${e.error_id}]`]), {id: "csv-errors", class: "list csv-report"});
        tableBox.querySelectorAll("tbody tr").forEach((tr) => tr.classList.add("bad"));
        report.replaceChildren(el("p", {class: "notice bad", id: "csv-result"}, t("v.refused", {bad})), tableBox);
      } else {
        say(status, exc.describe ? exc.describe() : String(exc), true);
        report.replaceChildren(el("p", {class: "notice bad", id: "csv-result"}, exc.describe ? exc.describe() : String(exc)));
      }
    }
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); send(true); });
  apply.addEventListener("click", () => send(false));
  root.replaceChildren(form, report, el("p", {class: "controls"}, exportLink, sjisLink));
}
