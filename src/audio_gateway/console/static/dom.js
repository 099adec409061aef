// Elements from data, never from HTML strings: ledger fields (a requested model, a reason) are untrusted text.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function table(columns, rows, rowAttrs = () => ({})) {
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : undefined }, c.label)))),
      h("tbody", {}, rows.length
        ? rows.map((row) => h("tr", rowAttrs(row), columns.map((c) =>
          h("td", { class: c.num ? "num" : undefined, "data-label": c.label, dataset: { field: c.key } },
            h("div", { class: "cell" }, c.cell(row))))))
        : h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "Nothing here yet.")))));
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

export function errorBox(err) {
  return h("div", { class: "alert", role: "alert" }, err.message || String(err));
}
