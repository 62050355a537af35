// The console's sections built on the generic list-and-form (crud.js), and the derived views
// (extensions, pickup and park groups).
import {api, el, say, t} from "/ui/hibiki.js";
import {crud, listAll} from "./crud.js";
import {field, read, showError, table} from "./ui.js";

const TARGET_KINDS = [["user", "t.user"], ["voicemail", "t.voicemail"], ["announcement", "t.announcement"],
                      ["ring_group", "t.ring_group"], ["ivr", "t.ivr"], ["queue", "t.queue"]];
const OPTIONAL_KINDS = [["", "f.none"], ...TARGET_KINDS];
const userName = (u) => `${u.display_name || u.username} (${u.extension || "—"})`;

export const users = crud({
  resource: "users", title: "c.users", name: (u) => u.username,
  columns: [["f.username", (u) => u.username], ["f.display_name", (u) => u.display_name], ["f.extension", (u) => u.extension],
            ["f.direct_number", (u) => u.direct_number], ["f.pickup_group", (u) => u.pickup_group], ["f.park_group", (u) => u.park_group]],
  fields: [
    {name: "username", required: true, createOnly: true}, {name: "display_name"}, {name: "display_name_kana"},
    {name: "extension", inputmode: "numeric", nullable: true}, {name: "direct_number", inputmode: "tel"}, {name: "email", type: "email"},
    {name: "caller_id_policy", type: "select", options: [["representative", "f.caller_id_policy.representative"], ["direct", "f.caller_id_policy.direct"]]},
    {name: "forward_always", inputmode: "tel"}, {name: "forward_busy", inputmode: "tel"}, {name: "forward_no_answer", inputmode: "tel"},
    {name: "forward_no_answer_seconds", type: "number", min: 5, max: 120, default: 20},
    {name: "forward_unregistered", inputmode: "tel"}, {name: "pickup_group"}, {name: "park_group"},
    {name: "voicemail_enabled", type: "checkbox", default: true},
    {name: "voicemail_pin", type: "password", inputmode: "numeric"}],
});

function password() {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  return btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "x");
}

export const devices = crud({
  resource: "devices", title: "c.devices", name: (d) => d.sip_username,
  columns: [["f.sip_username", (d) => d.sip_username], ["f.kind", (d) => t("f.kind." + d.kind)], ["f.label", (d) => d.label],
            ["f.phone", (d) => d.phone], ["f.line_key", (d) => d.line_key], ["f.enabled", (d) => t(d.enabled ? "hb.yes" : "hb.no")]],
  async prepare(ctx) {
    const people = await listAll(ctx, "users");
    return [
      {name: "user_id", type: "select", required: true, createOnly: true, options: people.map((u) => [u.id, null]).map(([id], i) => [id, null]), labels: people},
      {name: "kind", type: "select", options: [["desk_phone", "f.kind.desk_phone"], ["softphone", "f.kind.softphone"],
                                               ["smartphone", "f.kind.smartphone"], ["tablet", "f.kind.tablet"]]},
      {name: "sip_username", required: true, createOnly: true}, {name: "password", type: "password"},
      {name: "label"}, {name: "enabled", type: "checkbox", default: true},
      {name: "phone", nullable: true, omitEmpty: true}, {name: "line_key", type: "number", min: 1, max: 64, omitEmpty: true}];
  },
  extraControls(boxes, fields) {
    const users = fields[0].labels || [];
    const select = boxes[0].control;
    [...select.options].forEach((opt, i) => { opt.textContent = userName(users[i]); });
    const pw = boxes[fields.findIndex((f) => f.name === "password")].control;
    return [el("button", {type: "button", class: "secondary", id: "generate-password",
                          onclick: () => { pw.type = "text"; pw.value = password(); pw.focus(); }}, t("f.password.generate"))];
  },
  async created(ctx, device, sent, root) {
    const tenant = await api(ctx.base);
    const rows = [["d.domain", tenant.domain], ["f.sip_username", device.sip_username], ["d.auth", device.sip_username],
                  ["f.password", sent.password || ""], ["d.server", location.hostname],
                  ["f.line_key", device.line_key ?? "—"], ["f.phone", device.phone ?? "—"]];
    const panel = el("section", {id: "provisioning", "aria-labelledby": "provisioning-title", class: "notice"},
      el("h3", {id: "provisioning-title", tabindex: "-1"}, t("d.provisioning")), el("p", {}, t("d.provisioning.help")),
      el("dl", {class: "provisioning"}, ...rows.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {"data-key": k}, String(v))])));
    root.prepend(panel);
    panel.querySelector("h3").focus();
  },
});

export const ringGroups = crud({
  resource: "ring_groups", title: "c.ring_groups", name: (g) => g.name,
  columns: [["f.name", (g) => g.name], ["f.extension", (g) => g.extension], ["f.strategy", (g) => t("f.strategy." + g.strategy)],
            ["f.ring_seconds", (g) => g.ring_seconds], ["f.members", (g) => g.members.length]],
  async prepare(ctx) {
    const people = await listAll(ctx, "users");
    return [{name: "name", required: true}, {name: "extension", inputmode: "numeric", nullable: true},
            {name: "strategy", type: "select", options: [["simultaneous", "f.strategy.simultaneous"], ["sequential", "f.strategy.sequential"]]},
            {name: "ring_seconds", type: "number", min: 5, max: 300, default: 20},
            {name: "members", type: "multi", options: people.map((u) => [u.id, userName(u)])},
            {name: "no_answer_kind", type: "select", nullable: true, options: OPTIONAL_KINDS}, {name: "no_answer_target"}];
  },
});

export const dids = crud({
  resource: "dids", title: "c.dids", name: (d) => d.number,
  columns: [["f.number", (d) => d.number], ["f.label", (d) => d.label], ["f.target_kind", (d) => t("t." + d.target_kind)],
            ["f.target", (d) => d.target], ["f.closed_target", (d) => d.closed_target], ["f.branches", (d) => Object.keys(d.branches || {}).join(", ")]],
  async prepare(ctx) {
    const [schedules, people, groups, menus] = await Promise.all([listAll(ctx, "schedules"), listAll(ctx, "users"),
                                                                  listAll(ctx, "ring_groups"), listAll(ctx, "ivrs")]);
    const suggest = [...people.map((u) => [u.id, `${t("t.user")}: ${userName(u)}`]), ...groups.map((g) => [g.id, `${t("t.ring_group")}: ${g.name}`]),
                     ...menus.map((i) => [i.id, `${t("t.ivr")}: ${i.name}`])];
    return [{name: "number", required: true, createOnly: true, inputmode: "tel"}, {name: "label"},
            {name: "schedule_id", type: "select", nullable: true, options: [["", "f.none"], ...schedules.map((s) => [s.id, null])], labels: schedules},
            {name: "target_kind", type: "select", options: TARGET_KINDS}, {name: "target", required: true, suggest},
            {name: "closed_kind", type: "select", nullable: true, options: OPTIONAL_KINDS}, {name: "closed_target", suggest},
            {name: "branches", type: "json", default: {}}];
  },
  extraControls(boxes, fields) {
    const schedules = fields[2].labels;
    [...boxes[2].control.options].slice(1).forEach((opt, i) => { opt.textContent = schedules[i].name; });
    return [];
  },
});

export const phonebook = crud({
  resource: "phonebook", title: "c.phonebook", name: (c) => c.name,
  columns: [["f.name", (c) => c.name], ["f.name_kana", (c) => c.name_kana], ["f.organization", (c) => c.organization],
            ["f.numbers", (c) => (c.numbers || []).join(", ")]],
  fields: [{name: "name", required: true}, {name: "name_kana"}, {name: "organization"},
           {name: "numbers", type: "list", required: true}, {name: "tags", type: "list"}, {name: "note", type: "textarea"}],
});

export const gateways = crud({
  resource: "gateways", title: "c.gateways", name: (g) => g.name,
  columns: [["f.name", (g) => g.name], ["f.proxy", (g) => g.proxy], ["f.port", (g) => g.port], ["f.register", (g) => t(g.register ? "hb.yes" : "hb.no")],
            ["f.enabled", (g) => t(g.enabled ? "hb.yes" : "hb.no")]],
  fields: [{name: "name", required: true, createOnly: true}, {name: "profile", default: "internal", omitEmpty: true}, {name: "proxy", required: true},
           {name: "port", type: "number", min: 1, max: 65535, omitEmpty: true}, {name: "realm", omitEmpty: true},
           {name: "transport", type: "select", options: [["udp", null], ["tcp", null], ["tls", null]]},
           {name: "username", label: "f.username"}, {name: "password", type: "password"}, {name: "register", type: "checkbox", default: true},
           {name: "expire_seconds", type: "number", omitEmpty: true}, {name: "caller_id_in_from", type: "checkbox"},
           {name: "from_user", omitEmpty: true}, {name: "from_domain", omitEmpty: true}, {name: "extension", omitEmpty: true},
           {name: "ping_seconds", type: "number", omitEmpty: true}, {name: "enabled", type: "checkbox", default: true}],
});

export async function extensions(ctx, root) {
  const [people, groups] = await Promise.all([listAll(ctx, "users"), listAll(ctx, "ring_groups")]);
  const rows = [...people.filter((u) => u.extension).map((u) => [u.extension, t("t.user"), userName(u)]),
                ...groups.filter((g) => g.extension).map((g) => [g.extension, t("t.ring_group"), g.name])]
    .sort((a, b) => a[0].localeCompare(b[0]));
  root.replaceChildren(el("p", {class: "notice"}, t("x.free")),
    table("c.extensions", [t("f.extension"), t("x.kind"), t("x.owner")], rows, {id: "extensions-list"}));
}

// Pickup and park groups are a property of users: a group is the users that name it.
export function groups(property) {
  return async function render(ctx, root, status) {
    const people = await listAll(ctx, "users");
    const byGroup = new Map();
    for (const u of people) if (u[property]) byGroup.set(u[property], [...(byGroup.get(u[property]) || []), userName(u)]);
    const spec = {name: property, label: "g.group"};
    const who = {name: "members", type: "multi", label: "g.users", options: people.map((u) => [u.id, userName(u)])};
    const groupBox = field(spec, ""), whoBox = field(who, []);
    const form = el("form", {class: "item-form", id: `${property}-form`, "aria-labelledby": `${property}-assign`},
      el("h3", {id: `${property}-assign`}, t("g.assign")), el("p", {class: "hint"}, t("g.assign.help")), groupBox, whoBox,
      el("div", {class: "actions"}, el("button", {type: "submit"}, t("hb.save"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const group = read(groupBox, spec), chosen = read(whoBox, who);
      try {
        for (const id of chosen) await api(`${ctx.base}/users/${encodeURIComponent(id)}`, {method: "PATCH", body: {[property]: group}});
        await render(ctx, root, status);
        say(status, t("g.saved", {n: chosen.length}));
      } catch (exc) { showError(form, status, exc); }
    });
    root.replaceChildren(
      table(property === "pickup_group" ? "c.pickup" : "c.park", [t("g.group"), t("g.members")],
            [...byGroup].sort().map(([g, names]) => [g, names.join("、")]), {id: `${property}-list`}),
      form);
  };
}

// Console users (people at a screen, not SIP users): roles, a delegate's scope, and the directory
// user whose own page (/me) a staff member (role self-service) sees.
const ROLES = ["tenant-admin", "delegated-admin", "supervisor", "agent", "recording-admin", "auditor", "viewer", "self-service"];
export const consoleUsers = crud({
  resource: "console_users", title: "c.console_users", name: (u) => u.login, editOnly: true,
  columns: [["f.login", (u) => u.login], ["f.display_name", (u) => u.display_name],
            ["f.roles", (u) => u.roles.filter((r) => ROLES.includes(r)).map((r) => t("role." + r)).join("、")],
            ["f.directory_user_id", (u) => u.directory_user_id ? (u._linked || "?") : "—"],
            ["f.totp_enabled", (u) => t(u.totp_enabled ? "hb.yes" : "hb.no")], ["f.enabled", (u) => t(u.enabled ? "hb.yes" : "hb.no")]],
  async prepare(ctx) {
    const people = await listAll(ctx, "users");
    consoleUsers.people = people;
    return [
      {name: "login", required: true, createOnly: true, hint: "f.login.hint"}, {name: "display_name"},
      {name: "password", type: "password", hint: "f.password.rules"},
      {name: "roles", type: "multi", required: true, options: ROLES.map((r) => [r, t("role." + r)])},
      {name: "directory_user_id", type: "select", nullable: true, hint: "f.directory_user_id.hint",
       options: [["", "f.none"], ...people.map((u) => [u.id, null])], labels: people},
      {name: "scope", type: "list", hint: "f.scope.hint"},
      {name: "enabled", type: "checkbox", default: true, editOnly: true},
      {name: "reset_totp", type: "checkbox", default: false, editOnly: true}];
  },
  extraControls(boxes, fields) {
    const at = fields.findIndex((f) => f.name === "directory_user_id");
    const people = fields[at].labels;
    [...boxes[at].control.options].slice(1).forEach((opt, i) => { opt.textContent = userName(people[i]); });
    return [];
  },
  decorate(items) {
    const byId = new Map((consoleUsers.people || []).map((u) => [u.id, userName(u)]));
    for (const item of items) item._linked = byId.get(item.directory_user_id);
  },
});
