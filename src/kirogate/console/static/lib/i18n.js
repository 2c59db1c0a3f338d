// Strings in English and Simplified Chinese. Every module registers its own table with
// register({ en: {...}, "zh-CN": {...} }); t(key, vars) looks a key up in the chosen language.
// A key missing from either language is recorded (missingTranslations()) and the browser
// tests fail on it, so every string is translated.

export const LANGUAGES = { en: "English", "zh-CN": "简体中文" };
const tables = { en: {}, "zh-CN": {} };
const unknown = new Set();
const listeners = new Set();

function initial() {
  const saved = localStorage.getItem("kirogate.lang");
  if (saved && saved in LANGUAGES) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

let current = initial();
document.documentElement.lang = current;

export function register(strings) {
  for (const lang of Object.keys(LANGUAGES)) Object.assign(tables[lang], strings[lang] || {});
}

export function lang() {
  return current;
}

export function setLang(next) {
  if (!(next in LANGUAGES) || next === current) return;
  current = next;
  localStorage.setItem("kirogate.lang", next);
  document.documentElement.lang = next;
  for (const listener of listeners) listener(next);
}

export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function t(key, vars) {
  let text = tables[current][key];
  if (text === undefined) {
    unknown.add(key);
    text = tables.en[key] ?? key;
  }
  if (vars) text = text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all));
  return text;
}

// Keys one language has and the other lacks, and keys asked for that no table has.
export function missingTranslations() {
  const en = Object.keys(tables.en);
  const zh = Object.keys(tables["zh-CN"]);
  return {
    zh: en.filter((key) => !(key in tables["zh-CN"])),
    en: zh.filter((key) => !(key in tables.en)),
    unknown: [...unknown],
  };
}
window.kirogateI18n = { missingTranslations };

// ---- formatting, in the chosen language

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(current, { maximumFractionDigits: digits }).format(value);
}

export function fmtCompact(value) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(current, { notation: "compact", maximumFractionDigits: 1 }).format(value);
}

export function fmtPercent(ratio, digits = 1) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "–";
  return new Intl.NumberFormat(current, { style: "percent", maximumFractionDigits: digits }).format(ratio);
}

export function fmtDate(value, withSeconds = false) {
  if (!value) return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(current, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: withSeconds ? "2-digit" : undefined,
  }).format(date);
}

export function fmtRelative(value) {
  if (!value) return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  const seconds = (date.getTime() - Date.now()) / 1000;
  const format = new Intl.RelativeTimeFormat(current, { numeric: "auto" });
  const steps = [
    [60, "second"],
    [3600, "minute", 60],
    [86400, "hour", 3600],
    [86400 * 30, "day", 86400],
    [86400 * 365, "month", 86400 * 30],
    [Infinity, "year", 86400 * 365],
  ];
  for (const [limit, unit, size = 1] of steps) {
    if (Math.abs(seconds) < limit) return format.format(Math.round(seconds / size), unit);
  }
  return fmtDate(value);
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${fmtNumber(ms)} ms`;
  if (ms < 60000) return `${fmtNumber(ms / 1000, 2)} s`;
  return `${fmtNumber(ms / 60000, 1)} min`;
}

export function fmtBytes(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${fmtNumber(value, unit ? 1 : 0)} ${units[unit]}`;
}
