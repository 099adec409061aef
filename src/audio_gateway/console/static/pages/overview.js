// Overview: requests, spend and fallbacks over the last hour / day / 30 days, by model or by provider.
import { api, query } from "../api.js";
import { timeChart } from "../charts.js";
import { clear, h } from "../dom.js";
import { count, money, percent, plural, time, timeZone } from "../format.js";

const RANGES = [["hour", "Last hour"], ["day", "Last day"], ["month", "Last 30 days"]];
const state = { range: "day", group: "model" };

function stat(id, label, value, shown, note = "") {
  return h("div", { class: "stat card", id },
    h("div", { class: "label" }, label),
    h("div", { class: "value", dataset: { value } }, shown),
    note ? h("div", { class: "muted small" }, note) : null);
}

function toggle(options, current, onPick, name) {
  return h("div", { class: "toggle", role: "group", "aria-label": name },
    options.map(([value, label]) => h("button", {
      type: "button", class: value === current ? "on" : "", "aria-pressed": String(value === current),
      dataset: { value }, onclick: () => onPick(value),
    }, label)));
}

export async function render(view) {
  const data = await api(`/console/api/overview${query({ range: state.range })}`);
  const rerender = () => {
    document.body.dataset.ready = "";
    return render(clear(view)).then(() => { document.body.dataset.ready = "overview"; });
  };
  const errors = data.error_rate;
  const by = data[`by_${state.group}`];
  view.append(
    h("div", { class: "page-head" },
      h("h1", {}, "Overview"),
      toggle(RANGES, state.range, (r) => { state.range = r; rerender(); }, "Range"),
      toggle([["model", "By model"], ["provider", "By provider"]], state.group, (g) => { state.group = g; rerender(); }, "Group")),
    h("p", { class: "muted small" },
      `${time(data.start_time)} – ${time(data.end_time)} (${timeZone()})`),
    h("div", { class: "stats" },
      stat("total-requests", "Requests", data.totals.requests, count(data.totals.requests)),
      stat("total-cost", "Spend", data.totals.cost_usd, money(data.totals.cost_usd)),
      stat("total-fallbacks", "Fallbacks", data.totals.fallbacks, count(data.totals.fallbacks),
        data.totals.requests ? `${percent(data.totals.fallbacks / data.totals.requests)} of requests` : ""),
      stat("error-rate", "Error rate (15 min)", errors.rate, percent(errors.rate),
        `${count(errors.errors)} of ${plural(errors.requests, "request")} failed`)),
    h("div", { class: "charts" },
      timeChart(`Requests by ${state.group}`, data.buckets, by.requests, { format: count, whole: true }),
      timeChart(`Spend by ${state.group}`, data.buckets, by.cost_usd, { format: (v) => money(Number(v).toFixed(6)) }),
      timeChart(`Fallbacks by ${state.group}`, data.buckets, by.fallbacks, { format: count, whole: true })));
}
