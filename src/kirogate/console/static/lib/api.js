// The console's only way to the gateway: the documented admin API (and the client API for the
// playground), same origin, with the session cookie and, on every change, the CSRF token.

const root = document.querySelector('meta[name="kirogate-root"]')?.content || "";
let csrf = null;
let onSignedOut = () => {};

export const ROOT = root;

export class ApiError extends Error {
  constructor(status, message, type, body) {
    super(message);
    this.status = status;
    this.type = type;
    this.body = body;
  }
}

export function setSession(session) {
  csrf = session ? session.csrf : null;
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export function url(path, query) {
  const target = new URL(root + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((item) => target.searchParams.append(name, item));
    else target.searchParams.set(name, value);
  }
  return target.pathname + target.search;
}

// The message of an error answer, whatever dialect it came in (admin, Anthropic, OpenAI).
export function errorMessage(body, status) {
  const error = body && body.error;
  if (error && typeof error === "object" && error.message) return error.message;
  if (typeof error === "string") return error;
  if (body && typeof body.detail === "string") return body.detail;
  return `HTTP ${status}`;
}

// Whether the session still holds: a 401 from one admin call is not always a signed-out
// browser, and sending the operator back to the sign-in page would lose what they were doing.
async function stillSignedIn() {
  try {
    const response = await fetch(url("/admin/session"), { headers: { accept: "application/json" }, credentials: "same-origin" });
    return response.ok && (await response.json()).signed_in === true;
  } catch {
    return false;
  }
}

export async function request(method, path, { body, query, headers, signal, raw } = {}) {
  const sent = { accept: "application/json", ...(headers || {}) };
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob) && typeof body !== "string") {
    sent["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET" && csrf) sent["x-csrf-token"] = csrf;
  let response;
  try {
    response = await fetch(url(path, query), { method, headers: sent, body: payload, credentials: "same-origin", signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "network", null);
  }
  if (raw && response.ok) return response;
  if (response.status === 401 && path.startsWith("/api/admin") && !(await stillSignedIn())) onSignedOut();
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    throw new ApiError(response.status, errorMessage(parsed, response.status), parsed?.error?.type, parsed);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// The model names clients may use (GET /v1/models), asked as the console: the client routes
// take the session cookie with the CSRF token on every method, reads included.
export async function clientModels() {
  const body = await request("GET", "/v1/models", { headers: { "x-csrf-token": csrf || "" } });
  return (body?.data || []).map((item) => item.id);
}

export const api = {
  get: (path, query, options) => request("GET", path, { ...options, query }),
  post: (path, body, options) => request("POST", path, { ...options, body }),
  put: (path, body, options) => request("PUT", path, { ...options, body }),
  patch: (path, body, options) => request("PATCH", path, { ...options, body }),
  del: (path, options) => request("DELETE", path, options),
};

// /api/admin/live: server-sent events of this instance; onStatus(true | false) says whether
// the feed is connected (the browser reconnects by itself). Returns a function that closes it.
export function live(onEvent, onStatus) {
  const source = new EventSource(url("/api/admin/live"));
  if (onStatus) {
    source.addEventListener("open", () => onStatus(true));
    source.addEventListener("error", () => onStatus(false));
  }
  const kinds = ["request.finished", "credential.state", "pool.unusable", "key.limit", "login.finished"];
  for (const kind of kinds) {
    source.addEventListener(kind, (event) => {
      try {
        onEvent(kind, JSON.parse(event.data));
      } catch {
        /* a malformed event is skipped */
      }
    });
  }
  return () => source.close();
}
