// Keys: spend against budget, limits, last used; create and revoke database keys (issue 12's key API,
// mounted under /console/api/keys; every change carries the session's CSRF token). Environment keys
// are listed read-only.
import { api, ApiError } from "../api.js";
import { badge, clear, errorBox, h, table } from "../dom.js";
import { count, money, time } from "../format.js";

const PERIODS = ["day", "week", "month", "total"];

const unix = (iso) => (iso ? Date.parse(iso) / 1000 : null);

function budget(k) {
  if (k.budget_usd === null) return [h("span", { dataset: { spend: k.spend_usd } }, money(k.spend_usd)),
    h("div", { class: "small muted" }, `this month, no budget`)];
  const used = Number(k.spend_usd) / Number(k.budget_usd);
  return [
    h("meter", { min: "0", max: k.budget_usd, low: String(Number(k.budget_usd) * 0.8), high: String(Number(k.budget_usd) * 0.8),
      optimum: "0", value: k.spend_usd, title: `${(used * 100).toFixed(1)} %` }),
    h("div", { dataset: { spend: k.spend_usd, budget: k.budget_usd } }, `${money(k.spend_usd)} of ${money(k.budget_usd)}`),
    h("div", { class: "small muted" }, k.budget_period === "total" ? "in total" : `per ${k.budget_period}, resets ${time(unix(k.resets_at))}`),
  ];
}

function limits(k) {
  const parts = [];
  if (k.rpm !== null) parts.push(`${count(k.rpm)} requests/min`);
  if (k.characters_per_minute !== null) parts.push(`${count(k.characters_per_minute)} characters/min`);
  if (k.audio_seconds_per_minute !== null) parts.push(`${count(k.audio_seconds_per_minute)} audio s/min`);
  return [parts.length ? parts.join(", ") : h("span", { class: "muted" }, "no rate limit"),
    h("div", { class: "small muted" }, k.models ? `models: ${k.models.join(", ")}` : "every model")];
}

function field(label, input) {
  return h("label", {}, label, input);
}

// Editing a key's limits: an empty field clears that limit (PATCH null), as the key API documents.
function editForm(k, onSaved) {
  const value = (v) => (v === null || v === undefined ? "" : String(v));
  const input = (name, attrs = {}) => h("input", { name, value: value(k[name]), autocomplete: "off", ...attrs });
  const message = h("div", { class: "small" });
  const form = h("form", { class: "edit", dataset: { edit: k.name } },
    field("Budget (USD)", input("budget_usd", { inputmode: "decimal", placeholder: "none" })),
    field("Period", h("select", { name: "budget_period" }, h("option", { value: "" }, "—"),
      PERIODS.map((p) => h("option", { value: p, selected: k.budget_period === p }, p)))),
    field("Requests / min", input("rpm", { type: "number", min: "1" })),
    field("Characters / min", input("characters_per_minute", { type: "number", min: "1" })),
    field("Audio s / min", input("audio_seconds_per_minute", { type: "number", min: "1" })),
    h("button", { type: "submit" }, "Save"), message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const text = (name) => (data.get(name).trim() ? data.get(name).trim() : null);
    const number = (name) => (text(name) === null ? null : Number(text(name)));
    const body = { budget_usd: text("budget_usd"), budget_period: text("budget_period"), rpm: number("rpm"),
      characters_per_minute: number("characters_per_minute"), audio_seconds_per_minute: number("audio_seconds_per_minute") };
    try {
      await api(`/console/api/keys/${encodeURIComponent(k.name)}`, { method: "PATCH", body });
      await onSaved();
    } catch (err) {
      message.textContent = err.message;
      message.className = "small error";
    }
  });
  return h("details", {}, h("summary", {}, "Edit limits"), form);
}

function createForm(models, onCreated) {
  const message = h("div", { id: "key-message" });
  const input = (name, attrs = {}) => h("input", { name, id: `key-${name}`, autocomplete: "off", ...attrs });
  const form = h("form", { class: "card", id: "key-form" },
    h("h2", {}, "Create a key"),
    h("div", { class: "form-grid" },
      field("Name", input("name", { required: true })),
      field("Budget (USD)", input("budget_usd", { inputmode: "decimal", placeholder: "none" })),
      field("Budget period", h("select", { name: "budget_period", id: "key-budget_period" },
        h("option", { value: "" }, "—"), PERIODS.map((p) => h("option", { value: p }, p)))),
      field("Requests / min", input("rpm", { type: "number", min: "1", placeholder: "unlimited" })),
      field("Characters / min", input("characters_per_minute", { type: "number", min: "1", placeholder: "unlimited" })),
      field("Audio seconds / min", input("audio_seconds_per_minute", { type: "number", min: "1", placeholder: "unlimited" })),
      field("Models (none selected: all)", h("select", { name: "models", id: "key-models", multiple: true, size: "4" },
        models.map((m) => h("option", { value: m }, m)))),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "admin", id: "key-admin" }), "Admin key"),
      h("button", { type: "submit", id: "key-create" }, "Create key")),
    message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: data.get("name").trim(), admin: data.get("admin") === "on" };
    const chosen = data.getAll("models");
    if (chosen.length) body.models = chosen;
    if (data.get("budget_usd").trim()) body.budget_usd = data.get("budget_usd").trim();   // a string: exact
    if (data.get("budget_period")) body.budget_period = data.get("budget_period");
    for (const name of ["rpm", "characters_per_minute", "audio_seconds_per_minute"]) {
      if (data.get(name)) body[name] = Number(data.get(name));
    }
    clear(message);
    try {
      const created = await api("/console/api/keys", { method: "POST", body });
      form.reset();
      await onCreated();
      message.append(h("div", { class: "notice", role: "status", id: "key-created" },
        h("strong", {}, `Key ${created.name} created. `), "Copy its secret now; it is not shown again: ",
        h("code", { id: "new-secret", class: "mono" }, created.secret)));
    } catch (err) {
      message.append(h("div", { class: "alert", role: "alert", id: "key-error" }, err.message));
    }
  });
  return form;
}

export async function render(view) {
  view.append(h("div", { class: "page-head" }, h("h1", {}, "Keys")));
  let keys;
  try {
    keys = await api("/console/api/keys");
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 503)) {
      view.append(h("div", { class: "alert", id: "keys-unavailable" },
        `The keys API is not available in this gateway: ${err.message}`));
      return;
    }
    throw err;
  }
  const [environment, options] = await Promise.all([api("/console/api/keys/environment"), api("/console/api/options")]);
  const list = h("div", { id: "key-list" });
  const draw = (data) => clear(list).append(table([
    { key: "name", label: "Key", cell: (k) => [h("strong", {}, k.name), " ", k.admin ? badge("admin", "warn") : null] },
    { key: "budget", label: "Spend / budget", cell: budget },
    { key: "limits", label: "Limits", cell: limits },
    { key: "created_at", label: "Created", cell: (k) => time(unix(k.created_at)) },
    { key: "last_used_at", label: "Last used", cell: (k) => (k.last_used_at ? time(unix(k.last_used_at)) : "never") },
    { key: "actions", label: "", cell: (k) => [editForm(k, () => refresh()), h("button", { type: "button", class: "danger", dataset: { revoke: k.name },
      onclick: async (event) => {
        if (!window.confirm(`Revoke ${k.name}? Requests with it fail within seconds.`)) return;
        event.target.disabled = true;
        try {
          await api(`/console/api/keys/${encodeURIComponent(k.name)}`, { method: "DELETE" });
          await refresh();
        } catch (err) {
          list.prepend(errorBox(err));
        }
      } }, "Revoke")] },
  ], data, (k) => ({ dataset: { key: k.name } })));
  const refresh = async () => draw((await api("/console/api/keys")).data);
  draw(keys.data);
  view.append(
    createForm(options.models, refresh),
    h("h2", {}, "Database keys"), list,
    h("h2", {}, "Environment keys"),
    h("p", { class: "muted small" }, "From AUDIO_GATEWAY_API_KEYS / AUDIO_GATEWAY_ADMIN_KEYS: no limits; change them in the environment."),
    table([
      { key: "name", label: "Key", cell: (k) => [h("strong", {}, k.name), " ", k.admin ? badge("admin", "warn") : null] },
      { key: "spend", label: "Spend this month", num: true, cell: (k) => h("span", { dataset: { spend: k.spend_usd } }, money(k.spend_usd)) },
      { key: "last_used_at", label: "Last used", cell: (k) => (k.last_used_at ? time(unix(k.last_used_at)) : "never") },
    ], environment.data, (k) => ({ dataset: { envKey: k.name } })));
}
