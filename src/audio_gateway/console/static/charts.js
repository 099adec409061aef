// Time-series charts on uPlot (vendored from npm under vendor/uplot, MIT): one line per group.
import uPlot from "./vendor/uplot/uPlot.esm.js";
import { h } from "./dom.js";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
  "#475569", "#ea580c"];

// `series`: {group: [value per bucket]}; values may be decimal strings (money): the chart plots floats,
// the figures beside it stay exact.
// `whole`: the values are counts, so the y axis ticks at whole numbers only.
export function timeChart(title, buckets, series, { format = String, height = 220, whole = false } = {}) {
  const names = Object.keys(series);
  const box = h("figure", { class: "chart", dataset: { chart: title } }, h("figcaption", {}, title));
  const plot = h("div", { class: "plot" });
  box.append(plot);
  if (!names.length) {
    plot.append(h("p", { class: "muted empty" }, "No requests in this range."));
  }
  const data = [buckets, ...names.map((name) => series[name].map(Number))];
  const opts = {
    width: 600, height,
    series: [{}, ...names.map((name, i) => ({
      label: name, stroke: PALETTE[i % PALETTE.length], width: 2,
      fill: `${PALETTE[i % PALETTE.length]}22`, points: { size: 4 },
      value: (u, v) => (v === null || v === undefined ? "—" : format(v)),
    }))],
    axes: [{}, { values: (u, ticks) => ticks.map((v) => format(v)), size: 70,
      ...(whole ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6] } : {}) }],
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, 1e-9) * 1.1] } },
    legend: { show: true },
    cursor: { points: { size: 6 } },
  };
  // Drawn once the figure is in the document and has a width; redrawn to fit when it resizes.
  requestAnimationFrame(() => {
    const chart = new uPlot(opts, data, plot);
    const fit = () => chart.setSize({ width: Math.max(240, plot.clientWidth), height });
    fit();
    new ResizeObserver(fit).observe(plot);
  });
  return box;
}
