// Schedules: the list and form (definition as JSON), a month calendar of the chosen schedule
// (holidays, year-end, seasons, special days, the override; each day says what it is in words)
// and the manual override.
import {api, el, lang, say, t} from "/ui/hibiki.js";
import {crud, listAll} from "./crud.js";
import {MESSAGES} from "./messages.js";
import {field, read, showError} from "./ui.js";

const TEMPLATE = {timezone: "Asia/Tokyo", closed_on_public_holidays: true, year_end: {start: "12-29", end: "01-03"},
  weekly: {mon: [{start: "08:30", end: "17:15"}], tue: [{start: "08:30", end: "17:15"}], wed: [{start: "08:30", end: "17:15"}],
           thu: [{start: "08:30", end: "17:15"}], fri: [{start: "08:30", end: "17:15"}], sat: [], sun: []},
  seasons: [], special_days: []};

const list = crud({
  resource: "schedules", title: "c.schedules", name: (s) => s.name,
  columns: [["f.name", (s) => s.name], ["s.override", (s) => (s.definition.override ? s.definition.override.mode : "—")]],
  fields: [{name: "name", required: true}, {name: "definition", type: "json", default: TEMPLATE}],
});

function branchText(day) {
  if (day.branch.startsWith("season:")) return t("s.branch.season", {name: day.branch.slice(7)});
  return t("s.branch." + day.branch);
}

export async function schedules(ctx, root, status) {
  const listBox = el("div"), calBox = el("section", {"aria-labelledby": "calendar-title"});
  root.replaceChildren(listBox, calBox);
  await list(ctx, listBox, status);
  const all = await listAll(ctx, "schedules");
  if (!all.length) return;
  const pick = {name: "schedule", type: "select", label: "f.schedule_id", options: all.map((s) => [s.id, null])};
  const pickBox = field(pick, all[0].id);
  [...pickBox.control.options].forEach((o, i) => { o.textContent = all[i].name; });
  const now = new Date();
  const monthSpec = {name: "month", type: "month", label: "s.month"};
  const monthBox = field(monthSpec, `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`);
  const grid = el("div", {id: "calendar"});
  const overrideBox = el("div", {id: "override"});
  calBox.replaceChildren(el("h3", {id: "calendar-title"}, t("s.calendar")), el("div", {class: "controls"}, pickBox, monthBox), overrideBox, grid);
  const draw = async () => {
    const [y, m] = (monthBox.control.value || "").split("-").map(Number);
    if (!y || !m) return;
    const first = new Date(Date.UTC(y, m - 1, 1));
    const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const id = pickBox.control.value;
    try {
      const cal = await api(`${ctx.base}/schedules/${encodeURIComponent(id)}/calendar?from=${first.toISOString().slice(0, 10)}&days=${days}`);
      grid.replaceChildren(month(cal, first));
      overrideBox.replaceChildren(override(ctx, all.find((s) => s.id === id), cal, status, draw));
    } catch (exc) { say(status, exc.describe ? exc.describe() : String(exc), true); }
  };
  pickBox.control.addEventListener("change", draw);
  monthBox.control.addEventListener("change", draw);
  await draw();
}

function month(cal, first) {
  const week = (MESSAGES[lang()] || MESSAGES.ja)["s.week"];
  const label = first.toLocaleDateString(lang() === "en" ? "en-GB" : "ja-JP", {year: "numeric", month: "long", timeZone: "UTC"});
  const table = el("table", {class: "calendar", id: "calendar-table"}, el("caption", {}, `${t("s.calendar")}: ${label}`));
  const head = table.createTHead().insertRow();
  week.forEach((d) => head.append(el("th", {scope: "col"}, d)));
  const body = table.createTBody();
  let row = body.insertRow();
  const lead = (first.getUTCDay() + 6) % 7;     // Monday first
  for (let i = 0; i < lead; i += 1) row.append(el("td", {class: "outside"}));
  cal.days.forEach((day, i) => {
    if ((lead + i) % 7 === 0 && i > 0) row = body.insertRow();
    const kind = day.branch.startsWith("season:") ? "season" : day.branch;
    const hours = day.hours.map((h) => `${h.start}–${h.end}`).join(", ");
    const cls = `${kind}${day.open ? "" : " closed-day"}`;
    row.append(el("td", {class: cls, "data-date": day.date, "data-branch": day.branch},
      el("span", {class: "day"}, String(Number(day.date.slice(8)))),
      el("span", {}, branchText(day)), el("br"), el("span", {}, day.open ? hours : t("s.closed"))));
  });
  while (row.cells.length < 7) row.append(el("td", {class: "outside"}));
  return table;
}

function override(ctx, schedule, cal, status, redraw) {
  const current = cal.override;
  const modeSpec = {name: "override_mode", type: "select", label: "s.override",
    options: [["", "s.override.none"], ["open", "s.override.open"], ["closed", "s.override.closed"], ["disaster", "s.override.disaster"]]};
  const reasonSpec = {name: "override_reason", label: "s.reason"};
  const modeBox = field(modeSpec, current ? current.mode : ""), reasonBox = field(reasonSpec, current ? current.reason : "");
  const form = el("form", {class: "controls", id: "override-form", "aria-label": t("s.override")}, modeBox, reasonBox,
    el("button", {type: "submit"}, t("s.override.save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mode = read(modeBox, modeSpec);
    const definition = {...schedule.definition, override: mode ? {mode, until: null, reason: read(reasonBox, reasonSpec)} : null};
    try {
      const saved = await api(`${ctx.base}/schedules/${encodeURIComponent(schedule.id)}`, {method: "PATCH", body: {definition}});
      schedule.definition = saved.definition;
      say(status, t("hb.saved"));
      await redraw();
    } catch (exc) { showError(form, status, exc); }
  });
  const note = current && cal.override_active
    ? el("p", {class: "notice warn", id: "override-note"}, t("s.override.active", {mode: current.mode, reason: current.reason || "—"})) : null;
  return el("div", {}, note, form);
}
