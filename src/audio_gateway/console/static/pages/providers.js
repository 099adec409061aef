// Providers: circuit state, time to first byte, attempts by outcome, and whether (and why not) configured.
import { api } from "../api.js";
import { badge, h, table } from "../dom.js";
import { count, duration, plural, seconds } from "../format.js";

const CIRCUIT = { closed: "ok", half_open: "warn", open: "bad" };
const SKIPPED = new Set(["not_configured", "circuit_open", "unsupported"]);   // routing passed it by, no call made

function outcomes(attempts) {
  const entries = Object.entries(attempts).sort();
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h("span", { class: "chips" }, entries.map(([outcome, n]) =>
    h("span", { class: `chip ${outcome === "ok" ? "ok" : SKIPPED.has(outcome) ? "skip" : ""}`, dataset: { outcome, value: n } }, `${outcome} ${count(n)}`)));
}

export async function render(view) {
  const data = await api("/console/api/providers");
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Providers")),
    h("p", { class: "muted small" },
      `Attempts, requests served and TTFB percentiles from the ledger's last ${Math.round(data.window_seconds / 60)} minutes`
      + ` (${plural(data.rows_read, "row")}${data.truncated ? ", newest only" : ""}); circuit state and smoothed TTFB are this process's.`),
    table([
      { key: "name", label: "Provider", cell: (p) => [h("strong", {}, p.name), h("div", { class: "muted small" }, p.adapter)] },
      { key: "configured", label: "Configured", cell: (p) => p.configured ? badge("yes", "ok") : [badge("no", "bad"), h("div", { class: "small" }, p.reason || "")] },
      { key: "circuit", label: "Circuit", cell: (p) => p.circuit ? [badge(p.circuit.state.replace("_", "-"), CIRCUIT[p.circuit.state]),
        p.circuit.consecutive_failures ? h("div", { class: "small" }, `${plural(p.circuit.consecutive_failures, "failure")} in a row`) : null,
        p.circuit.retry_in_seconds ? h("div", { class: "small" }, `retry in ${seconds(p.circuit.retry_in_seconds)}`) : null,
        p.circuit.last_failure ? h("div", { class: "small muted" }, `last: ${p.circuit.last_failure}`) : null] : "—" },
      { key: "served", label: "Served (1 h)", num: true, cell: (p) => h("span", { dataset: { value: p.served } }, count(p.served)) },
      { key: "ttfb", label: "TTFB p50 / p95", num: true, cell: (p) => h("span", { dataset: { p50: p.ttfb_ms.p50 ?? "", p95: p.ttfb_ms.p95 ?? "" } },
        `${duration(p.ttfb_ms.p50)} / ${duration(p.ttfb_ms.p95)}`) },
      { key: "ewma", label: "Smoothed TTFB (tts / stt)", num: true, cell: (p) =>
        `${duration(p.latency_ewma_ms.tts?.ewma_ms)} / ${duration(p.latency_ewma_ms.stt?.ewma_ms)}` },
      { key: "attempts", label: "Attempts by outcome (1 h)", cell: (p) => outcomes(p.attempts) },
      { key: "models", label: "Models", cell: (p) => h("span", { class: "small" }, p.models.join(", ")) },
    ], data.data, (p) => ({ dataset: { provider: p.name } })));
}
