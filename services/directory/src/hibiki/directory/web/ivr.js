// IVRs: a tree editor (menus as fieldsets, each key leading to a branch; an outline of the tree)
// over the proto3 JSON of hibiki.directory.v1.Ivr, saved whole (PUT), and the branch test mode:
// every path a caller can take (GET .../paths), each playable step by step.
import {api, el, say, t} from "/ui/hibiki.js";
import {listAll} from "./crud.js";
import {field, read, showError, table, uid} from "./ui.js";

const KINDS = ["menu", "extension", "ring_group", "queue", "voicemail", "external", "message", "back", "repeat", "schedule"];
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"];

function kindOf(branch) { return KINDS.find((k) => k in branch) || "message"; }
function targetOf(branch) {
  const kind = kindOf(branch), v = branch[kind];
  if (kind === "queue") return v.queue_id || "";
  if (kind === "message") return (v.prompt && (v.prompt.text || v.prompt.prompt_id || v.prompt.sound)) || "";
  if (kind === "schedule") return JSON.stringify(v);
  if (kind === "back" || kind === "repeat") return "";
  return v;
}
function branchOf(kind, target) {
  if (kind === "queue") return {queue: {queue_id: target}};
  if (kind === "message") return {message: {prompt: {text: target}}};
  if (kind === "schedule") return {schedule: JSON.parse(target || "{}")};
  if (kind === "back" || kind === "repeat") return {[kind]: true};
  return {[kind]: target};
}
function greetingText(menu) {
  const g = menu.greeting || {};
  return g.text || (g.prompt_id ? `[${g.prompt_id}]` : g.sound ? `[${g.sound}]` : "");
}

export async function ivrs(ctx, root, status) {
  const all = await listAll(ctx, "ivrs");
  const pickSpec = {name: "ivr", type: "select", label: "c.ivrs", options: [["", "c.new"], ...all.map((i) => [i.id, null])]};
  const pickBox = field(pickSpec, all.length ? all[0].id : "");
  [...pickBox.control.options].slice(1).forEach((o, i) => { o.textContent = `${all[i].name} (${all[i].id})`; });
  const editor = el("div", {id: "ivr-editor"}), test = el("section", {id: "ivr-test", "aria-labelledby": "ivr-test-title"});
  root.replaceChildren(el("div", {class: "controls"}, pickBox), editor, test);
  const open = () => {
    const chosen = all.find((i) => i.id === pickBox.control.value);
    const ivr = chosen ? structuredClone(chosen) : {id: "", name: "", root_menu: "main",
      menus: [{id: "main", name: "main", greeting: {text: ""}, choices: {}}]};
    edit(ctx, ivr, !chosen, editor, status, async (saved) => {
      await ivrs(ctx, root, status);
      say(status, t("hb.saved"));
      return saved;
    });
    testMode(ctx, chosen, test, status);
  };
  pickBox.control.addEventListener("change", open);
  open();
}

function edit(ctx, ivr, isNew, box, status, saved) {
  const form = el("form", {class: "item-form", id: "ivr-form", "aria-label": t("c.ivrs"), novalidate: true});
  const idSpec = {name: "id", label: "i.id", required: true}, nameSpec = {name: "name", label: "i.name", required: true};
  const idBox = field(idSpec, ivr.id), nameBox = field(nameSpec, ivr.name);
  if (!isNew) idBox.control.disabled = true;
  const rootSpec = {name: "root_menu", label: "i.root", type: "select", options: ivr.menus.map((m) => [m.id, null])};
  const rootBox = field(rootSpec, ivr.root_menu);
  const menusBox = el("div", {id: "ivr-menus"});
  const outline = el("div", {class: "ivr-tree", id: "ivr-tree", "aria-label": t("i.tree"), role: "group"});
  const menuEditors = [];

  function drawOutline() {
    const byId = Object.fromEntries(collect().menus.map((m) => [m.id, m]));
    const walk = (id, seen) => {
      const menu = byId[id];
      if (!menu || seen.has(id)) return el("li", {}, id);
      const items = Object.entries(menu.choices || {}).map(([key, b]) => {
        const kind = kindOf(b);
        const text = `${t("i.key")} ${key} → ${t("i.b." + kind)} ${targetOf(b)}`;
        return kind === "menu" ? el("li", {}, text, el("ul", {}, walk(b.menu, new Set([...seen, id])))) : el("li", {}, text);
      });
      return el("li", {}, `${menu.name || menu.id}: ${greetingText(menu)}`, items.length ? el("ul", {}, ...items) : null);
    };
    outline.replaceChildren(el("h3", {}, t("i.tree")), el("ul", {}, walk(rootBox.control.value, new Set())));
  }

  function menuEditor(menu) {
    const fs = el("fieldset", {class: "ivr-menu"}), legend = el("legend", {}, t("i.menu", {id: menu.id}));
    const mid = field({name: "menu_id", label: "f.id", required: true}, menu.id);
    const mname = field({name: "menu_name", label: "f.name"}, menu.name || "");
    const greet = field({name: "greeting", label: "i.greeting", type: "textarea"}, (menu.greeting || {}).text || "");
    const prompt = field({name: "prompt_id", label: "i.prompt_id"}, (menu.greeting || {}).prompt_id || "");
    const rows = el("tbody");
    const choices = el("table", {class: "list"}, el("caption", {}, t("i.key")),
      el("thead", {}, el("tr", {}, ...["i.key", "i.branch", "i.target", "hb.actions"].map((k) => el("th", {scope: "col"}, t(k))))), rows);
    const addRow = (key, branch) => {
      const kid = uid("key"), bid = uid("kind"), tid = uid("target");
      const keySel = el("select", {id: kid, "aria-label": t("i.key")}, ...KEYS.map((k) => el("option", {value: k}, k)));
      keySel.value = key;
      const kindSel = el("select", {id: bid, "aria-label": t("i.branch")}, ...KINDS.map((k) => el("option", {value: k}, t("i.b." + k))));
      kindSel.value = kindOf(branch);
      const target = el("input", {id: tid, "aria-label": t("i.target"), value: targetOf(branch)});
      const tr = el("tr", {}, el("td", {}, keySel), el("td", {}, kindSel), el("td", {}, target), el("td", {},
        el("button", {type: "button", class: "secondary", "aria-label": t("i.remove_choice", {key}),
                      onclick: () => { tr.remove(); drawOutline(); }}, t("hb.delete"))));
      tr.read = () => [keySel.value, branchOf(kindSel.value, target.value.trim())];
      [keySel, kindSel, target].forEach((c) => c.addEventListener("change", drawOutline));
      rows.append(tr);
    };
    Object.entries(menu.choices || {}).forEach(([k, b]) => addRow(k, b));
    const add = el("button", {type: "button", class: "secondary", onclick: () => {
      const used = new Set([...rows.children].map((r) => r.read()[0]));
      addRow(KEYS.find((k) => !used.has(k)) || "1", {extension: ""});
      rows.lastElementChild.querySelector("input").focus();
    }}, t("i.add_choice"));
    fs.append(legend, el("div", {class: "controls"}, mid, mname, greet, prompt), choices, add);
    fs.read = () => {
      const out = {...menu, id: read(mid, {}), name: read(mname, {}), choices: Object.fromEntries([...rows.children].map((r) => r.read()))};
      const text = read(greet, {}), pid = read(prompt, {});
      out.greeting = pid ? {prompt_id: pid} : {text};
      return out;
    };
    return fs;
  }

  const collect = () => ({...ivr, id: read(idBox, idSpec), name: read(nameBox, nameSpec), root_menu: rootBox.control.value,
                          menus: menuEditors.map((m) => m.read())});
  ivr.menus.forEach((m) => { const ed = menuEditor(m); menuEditors.push(ed); menusBox.append(ed); });
  const addMenu = el("button", {type: "button", class: "secondary", id: "ivr-add-menu", onclick: () => {
    const id = `menu${menuEditors.length + 1}`;
    const ed = menuEditor({id, name: id, greeting: {text: ""}, choices: {}});
    menuEditors.push(ed); menusBox.append(ed);
    rootBox.control.append(el("option", {value: id}, id));
    ed.querySelector("input").focus();
  }}, t("i.add_menu"));
  form.append(el("div", {class: "controls"}, idBox, nameBox, rootBox), menusBox, addMenu,
    el("div", {class: "actions"}, el("button", {type: "submit"}, t("i.save"))));
  form.addEventListener("input", drawOutline);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try { body = collect(); } catch (exc) { say(status, String(exc), true); return; }
    delete body.tenant; delete body.version;
    try {
      const done = isNew ? await api(`${ctx.base}/ivrs`, {method: "POST", body})
                         : await api(`${ctx.base}/ivrs/${encodeURIComponent(ivr.id)}`, {method: "PUT", body});
      await saved(done);
    } catch (exc) { showError(form, status, exc); }
  });
  box.replaceChildren(outline, form);
  drawOutline();
}

function testMode(ctx, ivr, box, status) {
  if (!ivr) { box.replaceChildren(); return; }
  const fromSpec = {name: "from", label: "i.test.from", type: "datetime-local"};
  const fromBox = field(fromSpec, "");
  const result = el("div", {id: "ivr-paths"}), player = el("ol", {id: "ivr-player", "aria-live": "polite"});
  const audio = el("audio", {id: "ivr-audio", controls: true, hidden: true, "aria-label": t("i.audio")});
  const run = el("button", {type: "button", id: "ivr-test-run", onclick: async () => {
    const local = fromBox.control.value;
    const from = local ? `${local.length === 16 ? local + ":00" : local}+09:00` : "";
    try {
      const got = await api(`${ctx.base}/ivrs/${encodeURIComponent(ivr.id)}/paths${from ? "?from=" + encodeURIComponent(from) : ""}`);
      const menus = Object.fromEntries(ivr.menus.map((m) => [m.id, m]));
      const rows = got.paths.map((p, n) => [
        p.keys.join(" ") || "—", new Date(p.at).toLocaleString(undefined, {timeZone: "Asia/Tokyo"}), p.menus.join(" › "), p.end,
        el("button", {type: "button", class: "secondary", "aria-label": t("i.play.label", {n: n + 1}),
                      onclick: () => play(ctx, p, menus, player, audio)}, t("i.play"))]);
      result.replaceChildren(el("p", {role: "status"}, t("i.paths", {n: got.paths.length})),
        table("i.test", [t("i.keys"), t("i.at"), t("i.menus"), t("i.end"), t("i.play")], rows, {id: "ivr-paths-table"}));
    } catch (exc) { say(status, exc.describe ? exc.describe() : String(exc), true); }
  }}, t("i.test.run"));
  box.replaceChildren(el("h3", {id: "ivr-test-title"}, t("i.test")), el("p", {}, t("i.test.help")),
    el("div", {class: "controls"}, fromBox, run), result, player, audio);
}

// Play a path as a caller hears it, step by step: each menu's greeting from the prompt store
// (a recorded prompt, or its text spoken by the same TTS and cache the switch uses: callcontrol's
// POST .../prompts/speak, through this origin), each key as its DTMF tone, then the end. A step
// that cannot sound (a system sound file, a role that may not have text spoken) says so.
let playing = 0;
const DTMF = {1: [697, 1209], 2: [697, 1336], 3: [697, 1477], 4: [770, 1209], 5: [770, 1336], 6: [770, 1477],
              7: [852, 1209], 8: [852, 1336], 9: [852, 1477], "*": [941, 1209], 0: [941, 1336], "#": [941, 1477]};

async function play(ctx, path, menus, player, audio) {
  const steps = [];
  path.menus.forEach((id, i) => {
    const m = menus[id] || {id};
    steps.push({text: t("i.step.menu", {name: m.name || id, text: greetingText(m)}), greeting: m.greeting || {}});
    if (path.keys[i] !== undefined) steps.push({text: t("i.step.key", {key: path.keys[i]}), key: String(path.keys[i])});
  });
  steps.push({text: t("i.step.end", {end: path.end})});
  const items = steps.map((s) => el("li", {}, s.text));
  player.replaceChildren(...items);
  const run = ++playing;
  for (const [i, s] of steps.entries()) {
    if (run !== playing) return;                       // another path was started
    items[i].setAttribute("aria-current", "step");
    try {
      if (s.greeting) {
        const seconds = await playGreeting(ctx, s.greeting, audio);
        if (seconds === null) items[i].append(" ", el("span", {class: "hint"}, t("i.step.silent")));
        else items[i].dataset.seconds = seconds.toFixed(2);
      } else if (s.key !== undefined) {
        await tone(s.key);
        items[i].dataset.tone = DTMF[s.key] ? DTMF[s.key].join("+") : "";
      }
    } catch (exc) {
      items[i].append(" ", el("span", {class: "error"}, exc.describe ? exc.describe() : String(exc)));
    }
    items[i].removeAttribute("aria-current");
    items[i].dataset.played = "1";
  }
  player.dataset.done = String(run);
}

async function greetingUrl(ctx, g) {
  let id = g.prompt_id;
  if (!id && g.text) id = (await api(`${ctx.base}/prompts/speak`, {method: "POST", body: {text: g.text}})).id;
  if (!id) return null;                                // a system sound file: named only
  const response = await api(`${ctx.base}/prompts/${encodeURIComponent(id)}/audio`, {raw: true});
  return URL.createObjectURL(await response.blob());
}

async function playGreeting(ctx, g, audio) {
  const url = await greetingUrl(ctx, g);
  if (!url) return null;
  if (audio.src.startsWith("blob:")) URL.revokeObjectURL(audio.src);
  const loaded = new Promise((resolve, reject) => {
    audio.onloadedmetadata = () => resolve(audio.duration);
    audio.onerror = () => reject(new Error(t("i.step.undecodable")));
  });
  audio.src = url;
  audio.hidden = false;
  const seconds = await loaded;
  const ended = new Promise((resolve) => { audio.onended = resolve; audio.onpause = resolve; });
  try { await audio.play(); await ended; } catch (_) { /* the browser would not play: the length is known */ }
  return seconds;
}

let tones = null;
async function tone(key) {
  const pair = DTMF[key];
  if (!pair || !window.AudioContext) return;
  tones = tones || new AudioContext();
  const gain = tones.createGain();
  gain.gain.value = 0.1;
  gain.connect(tones.destination);
  const end = tones.currentTime + 0.2;
  for (const f of pair) { const o = tones.createOscillator(); o.frequency.value = f; o.connect(gain); o.start(); o.stop(end); }
  await new Promise((resolve) => setTimeout(resolve, 300));
}
