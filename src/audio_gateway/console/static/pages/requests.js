// Requests: recent ledger rows filtered by key, model and status; one request's attempts by x-request-id.
import { api, ApiError, query } from "../api.js";
import { badge, clear, errorBox, h, table } from "../dom.js";
import { count, duration, money, seconds, time } from "../format.js";

const filters = { api_key_id: "", model: "", status: "" };
const STATUS = { completed: "ok", client_disconnected: "warn", cancelled: "warn", upstream_cut: "bad", failed: "bad" };

function select(name, label, values) {
  return h("label", {}, label,
    h("select", { name, id: `filter-${name}`, onchange: (e) => { filters[name] = e.target.value; location.hash = "#/requests"; rerender(); } },
      h("option", { value: "" }, "any"),
      values.map((v) => h("option", { value: v, selected: filters[name] === v }, v))));
}

let rerender = () => {};

function rowsTable(rows) {
  return table([
    { key: "created_at", label: "Time", cell: (r) => time(r.created_at) },
    { key: "id", label: "Request id", cell: (r) => h("a", { href: `#/requests/${encodeURIComponent(r.id)}`, class: "mono" }, r.id) },
    { key: "api_key_id", label: "Key", cell: (r) => r.api_key_id ?? "—" },
    { key: "model", label: "Model", cell: (r) => [r.model_served ?? r.model_requested,
      r.model_served && r.model_served !== r.model_requested ? h("div", { class: "small muted" }, `asked ${r.model_requested}`) : null] },
    { key: "provider", label: "Provider", cell: (r) => r.provider ?? "—" },
    { key: "status", label: "Status", cell: (r) => [badge(r.status, STATUS[r.status]), h("span", { class: "small muted" }, ` ${r.http_status}`)] },
    { key: "attempts", label: "Attempts", num: true, cell: (r) => [count(r.attempts), r.fell_back ? h("div", { class: "small" }, badge("fell back", "warn")) : null] },
    { key: "cost_usd", label: "Cost", num: true, cell: (r) => h("span", { dataset: { value: r.cost_usd } }, money(r.cost_usd)) },
    { key: "latency_ms", label: "Latency / TTFB", num: true, cell: (r) => `${duration(r.latency_ms)} / ${duration(r.ttfb_ms)}` },
  ], rows, (r) => ({ dataset: { requestId: r.id } }));
}

function detail(row) {
  return h("section", { class: "card detail", id: "request-detail", dataset: { requestId: row.id } },
    h("h2", {}, "Request ", h("span", { class: "mono" }, row.id)),
    h("dl", { class: "facts" },
      [["Time", time(row.created_at)], ["Key", row.api_key_id ?? "—"], ["Endpoint", row.endpoint],
        ["Asked for", row.model_requested], ["Served by", row.model_served ? `${row.model_served} (${row.provider})` : "nobody"],
        ["Route", row.route ?? "—"], ["Status", `${row.status} (HTTP ${row.http_status})`],
        ["Cost", h("span", { id: "detail-cost", dataset: { value: row.cost_usd } }, money(row.cost_usd))],
        ["Audio", seconds(row.audio_seconds)], ["Characters", count(row.characters)],
        ["Latency", duration(row.latency_ms)], ["TTFB", duration(row.ttfb_ms)], ["Trace", row.trace_id ?? "—"]]
        .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h3", {}, "Attempts"),
    table([
      { key: "n", label: "#", num: true, cell: (a) => a.n },
      { key: "provider", label: "Provider", cell: (a) => a.provider },
      { key: "model", label: "Model", cell: (a) => a.model },
      { key: "outcome", label: "Outcome", cell: (a) => badge(a.outcome, a.outcome === "ok" ? "ok" : "bad") },
      { key: "status", label: "HTTP", num: true, cell: (a) => a.status ?? "—" },
      { key: "reason", label: "Reason", cell: (a) => a.reason || "—" },
    ], row.attempt_outcomes.map((a, i) => ({ ...a, n: i + 1 })), (a) => ({ dataset: { attempt: a.n } })),
    h("h3", {}, "Billing lines"),
    table([
      { key: "unit", label: "Unit", cell: (l) => l.unit },
      { key: "quantity", label: "Quantity", num: true, cell: (l) => [l.quantity, l.estimated ? " (estimated)" : ""] },
      { key: "price", label: "Price", num: true, cell: (l) => `${money(l.price_usd)} / ${count(l.per)}` },
      { key: "cost", label: "Cost", num: true, cell: (l) => money(l.cost_usd) },
    ], row.lines));
}

async function lookUp(panel, id) {
  clear(panel);
  if (!id) return;
  try {
    panel.append(detail(await api(`/console/api/requests/${encodeURIComponent(id)}`)));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) panel.append(h("div", { class: "alert", role: "alert", id: "request-missing" }, err.message));
    else panel.append(errorBox(err));
  }
}

export async function render(view, { args }) {
  rerender = () => {
    document.body.dataset.ready = "";
    return render(clear(view), { args: [] }).then(() => { document.body.dataset.ready = "requests"; });
  };
  const [options, page] = await Promise.all([api("/console/api/options"), api(`/console/api/requests${query(filters)}`)]);
  const panel = h("div", { id: "detail-panel" });
  const idInput = h("input", { type: "search", id: "request-id", placeholder: "x-request-id", value: args[0] || "", spellcheck: "false" });
  const list = h("div", { id: "request-rows" }, rowsTable(page.data));
  let next = page.next;
  const more = h("button", { type: "button", id: "more", hidden: !next, onclick: async () => {
    const older = await api(`/console/api/requests${query({ ...filters, before: next })}`);
    page.data.push(...older.data);
    next = older.next;
    clear(list).append(rowsTable(page.data));
    more.hidden = !next;
  } }, "Older requests");
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Requests")),
    h("form", { class: "filters", id: "lookup", onsubmit: (e) => { e.preventDefault(); location.hash = `#/requests/${encodeURIComponent(idInput.value.trim())}`; } },
      h("label", {}, "Request id", idInput), h("button", { type: "submit" }, "Show attempts")),
    panel,
    h("div", { class: "filters" },
      select("api_key_id", "Key", options.api_key_ids), select("model", "Model", options.models),
      select("status", "Status", options.statuses)),
    list, more);
  await lookUp(panel, args[0]);
}
