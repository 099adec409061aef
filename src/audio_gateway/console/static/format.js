// Numbers as money, durations and local times. Money arrives as an exact decimal string and is formatted
// from that string (Intl.NumberFormat reads string decimals exactly), never through a float.
const moneyFormat = new Intl.NumberFormat(undefined, {
  style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 12,
});
const countFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const shortTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const shortDate = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function money(decimal) {
  if (decimal === null || decimal === undefined) return "—";
  return moneyFormat.format(String(decimal));
}

export function count(n) {
  return n === null || n === undefined ? "—" : countFormat.format(n);
}

export function percent(ratio) {
  return new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 2 }).format(ratio);
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${new Intl.NumberFormat(undefined, { maximumFractionDigits: ms < 10 ? 1 : 0 }).format(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function seconds(s) {
  return s === null || s === undefined ? "—" : duration(Number(s) * 1000);
}

export function time(unixSeconds) {
  return unixSeconds ? dateTime.format(new Date(unixSeconds * 1000)) : "—";
}

export function tick(unixSeconds, bucketSeconds) {
  const date = new Date(unixSeconds * 1000);
  return bucketSeconds >= 86400 ? shortDate.format(date) : shortTime.format(date);
}

export function timeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${n === 1 ? one : many}`;
}
