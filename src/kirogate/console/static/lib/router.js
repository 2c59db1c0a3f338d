// Where the console is: /admin/<page>?<query>, changed without reloading the document.
import { ROOT } from "./api.js";

export const BASE = ROOT + "/admin";
const listeners = new Set();

export function current() {
  const rest = window.location.pathname.slice(BASE.length).replace(/^\/+|\/+$/g, "");
  return { page: rest || "overview", query: new URLSearchParams(window.location.search) };
}

// navigate("logs", { status: "500" }) or navigate("keys")
export function navigate(page, query, { replace = false } = {}) {
  const search = query ? new URLSearchParams(Object.entries(query).filter(([, value]) => value !== undefined && value !== null && value !== "")).toString() : "";
  const target = `${BASE}${page === "overview" ? "" : "/" + page}${search ? "?" + search : ""}`;
  if (target !== window.location.pathname + window.location.search) {
    window.history[replace ? "replaceState" : "pushState"](null, "", target);
  }
  for (const listener of listeners) listener(current());
}

export function href(page) {
  return `${BASE}${page === "overview" ? "" : "/" + page}`;
}

export function onNavigate(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

window.addEventListener("popstate", () => {
  for (const listener of listeners) listener(current());
});

// The signed-in session (CSRF token, version, announcement), shared by every page.
export const session = { value: null };
