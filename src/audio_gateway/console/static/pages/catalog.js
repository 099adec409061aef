// Catalog: the version served, the last refused reload, models with prices, voices and routing.
import { api } from "../api.js";
import { badge, h, table } from "../dom.js";
import { count, money, time } from "../format.js";

function price(p) {
  const per = p.per === 1 ? p.label || p.unit : `${count(p.per)} ${p.label || p.unit}`;
  return h("div", { class: "small", dataset: { unit: p.unit, price: p.price_usd } }, `${money(p.price_usd)} per ${per}`);
}

function routing(m) {
  const r = m.routing;
  const chain = r.policy === "chain" ? [m.id, ...m.fallbacks] : r.targets.concat(r.then);
  return [badge(r.policy), " ", h("span", { class: "small" }, chain.join(" → ")),
    r.content.length ? h("div", { class: "small muted" }, r.content.map((c) => `${c.rule} → ${c.use}`).join("; ")) : null];
}

function voices(m) {
  if (!m.voices) return "—";
  return h("div", { class: "small" }, m.voices.native.join(", "),
    Object.keys(m.voices.mapped).length ? h("div", { class: "muted" }, Object.entries(m.voices.mapped).map(([a, b]) => `${a}→${b}`).join(", ")) : null);
}

export async function render(view) {
  const c = await api("/console/api/catalog");
  const failure = c.reload_error;
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Catalog")),
    h("dl", { class: "facts card" },
      h("dt", {}, "Version"), h("dd", { id: "catalog-version", class: "mono" }, c.version ?? "—"),
      h("dt", {}, "Loaded"), h("dd", {}, time(c.loaded_at)),
      h("dt", {}, "Reloads"), h("dd", {}, c.reloadable ? count(c.reloads) : "not reloadable (no catalog source)"),
      h("dt", {}, "Last reload"), h("dd", { id: "reload-status" }, failure ? badge("refused", "bad") : badge("ok", "ok"))),
    failure ? h("div", { class: "alert", role: "alert", id: "reload-error" },
      h("strong", {}, `Reload refused ${time(failure.at)} (${failure.trigger}); the previous catalog is still served.`),
      h("ul", {}, failure.problems.map((p) => h("li", { class: "mono small" }, p)))) : "",
    h("h2", {}, `Models (${c.models.length})`),
    table([
      { key: "id", label: "Model", cell: (m) => [h("strong", {}, m.id), m.aliases.length ? h("div", { class: "small muted" }, `aliases: ${m.aliases.join(", ")}`) : null] },
      { key: "kind", label: "Kind", cell: (m) => m.kind },
      { key: "provider", label: "Provider", cell: (m) => m.provider ? [m.provider, h("div", { class: "small muted" }, m.upstream_model)] : badge("virtual") },
      { key: "pricing", label: "Price", cell: (m) => m.pricing.length ? m.pricing.map(price) : "—" },
      { key: "routing", label: "Routing / fallbacks", cell: routing },
      { key: "voices", label: "Voices", cell: voices },
    ], c.models, (m) => ({ dataset: { model: m.id } })),
    h("h2", {}, "Voice sets"),
    table([
      { key: "name", label: "Set", cell: (v) => v.name },
      { key: "voices", label: "Voices", cell: (v) => h("span", { class: "small" }, v.voices.join(", ")) },
      { key: "default", label: "Default", cell: (v) => v.default },
      { key: "unknown", label: "Unknown voice", cell: (v) => v.unknown },
    ], Object.entries(c.voice_sets).map(([name, v]) => ({ name, ...v }))),
    h("h2", {}, "Providers"),
    table([
      { key: "name", label: "Provider", cell: (p) => p.name },
      { key: "adapter", label: "Adapter", cell: (p) => p.adapter },
      { key: "base_url", label: "URL", cell: (p) => h("span", { class: "mono small" }, p.base_url ?? "—") },
      { key: "timeouts", label: "Timeouts (connect / first byte / read)", cell: (p) =>
        `${p.timeouts.connect_seconds} s / ${p.timeouts.first_byte_seconds} s / ${p.timeouts.read_seconds} s` },
      { key: "breaker", label: "Breaker", cell: (p) => p.circuit_breaker.enabled
        ? `${p.circuit_breaker.failure_threshold} failures → ${p.circuit_breaker.cooldown_seconds} s` : "off" },
    ], c.providers, (p) => ({ dataset: { provider: p.name } })));
}
