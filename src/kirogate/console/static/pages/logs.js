// The logs page: every request on a client route, filtered (the filters live in the address,
// so other pages can link to a filtered view), a detail with timing, tokens, error and bodies,
// CSV export, and new rows arriving from /api/admin/live while the page is open.
import { html, useState, useEffect, useRef, useMemo } from "../lib/preact.js";
import { api, live, url } from "../lib/api.js";
import { t, register, fmtNumber, fmtDate, fmtRelative, fmtDuration } from "../lib/i18n.js";
import { navigate, href } from "../lib/router.js";
import { Icon } from "../lib/icons.js";
import {
  PageHeader, Card, Badge, Empty, Modal, Button, Field, Input, Select, Switch, Tabs,
  CopyButton, ErrorNote, Note, Loading, Spinner, useInterval, loadStyle,
} from "../lib/ui.js";

loadStyle("pages/logs.css");

register({
  en: {
    "logs.subtitle": "Every request on a client route, newest first.",
    "logs.live": "Live",
    "logs.live_on": "New requests appear as they finish",
    "logs.live_off": "Paused: new requests are not added",
    "logs.refresh": "Refresh",
    "logs.export": "Export CSV",
    "logs.filters": "Filters",
    "logs.clear": "Clear filters",
    "logs.f.range": "Time",
    "logs.f.since": "From",
    "logs.f.until": "Until",
    "logs.f.status": "Status",
    "logs.f.model": "Model",
    "logs.f.key": "API key",
    "logs.f.credential": "Credential",
    "logs.f.client": "Address",
    "logs.f.endpoint": "Endpoint",
    "logs.f.model_hint": "claude-sonnet-4-5",
    "logs.f.client_hint": "203.0.113.9",
    "logs.range.any": "Any time",
    "logs.range.15m": "Last 15 minutes",
    "logs.range.1h": "Last hour",
    "logs.range.24h": "Last 24 hours",
    "logs.range.7d": "Last 7 days",
    "logs.range.30d": "Last 30 days",
    "logs.range.custom": "Custom range",
    "logs.status.any": "Any status",
    "logs.status.2xx": "Succeeded (2xx)",
    "logs.status.4xx": "Refused (4xx)",
    "logs.status.5xx": "Failed (5xx)",
    "logs.any": "Any",
    "logs.key.default": "default (configured key)",
    "logs.col.time": "Time",
    "logs.col.status": "Status",
    "logs.col.endpoint": "Endpoint",
    "logs.col.model": "Model",
    "logs.col.key": "Key",
    "logs.col.credential": "Credential",
    "logs.col.client": "Address",
    "logs.col.tokens": "Tokens",
    "logs.col.ttft": "First token",
    "logs.col.duration": "Duration",
    "logs.table": "Requests",
    "logs.open": "details",
    "logs.more": "Show older requests",
    "logs.end": "That is every matching request.",
    "logs.trimmed": "The newest {count} are kept while live; refresh to page through older ones.",
    "logs.shown": "{count} requests shown",
    "logs.writing": "being written…",
    "logs.empty.title": "No requests yet",
    "logs.empty.text": "Requests to /v1/messages, /v1/chat/completions and /v1/responses show up here as they finish.",
    "logs.empty.connect": "Connect a client",
    "logs.empty.filtered": "No request matches these filters",
    "logs.empty.filtered_text": "Widen the time range or clear a filter.",
    "logs.none": "none",
    "logs.credential_n": "#{id}",
    "logs.detail.title": "Request details",
    "logs.detail.timing": "Timing",
    "logs.detail.tokens": "Tokens",
    "logs.detail.route": "Who and where",
    "logs.detail.duration": "Duration",
    "logs.detail.ttft": "Time to first token",
    "logs.detail.upstream": "After the first token",
    "logs.detail.streamed": "Streamed",
    "logs.detail.input": "Input",
    "logs.detail.output": "Output",
    "logs.detail.total": "Total",
    "logs.detail.key": "API key",
    "logs.detail.credential": "Credential",
    "logs.detail.client": "Address",
    "logs.detail.request_id": "Request id",
    "logs.detail.model": "Model asked for",
    "logs.detail.model_sent": "Sent upstream as",
    "logs.detail.endpoint": "Endpoint",
    "logs.detail.error": "Error",
    "logs.detail.bodies": "Bodies",
    "logs.detail.request_body": "Request",
    "logs.detail.response_body": "Response",
    "logs.detail.no_body": "Nothing was recorded for this side.",
    "logs.detail.bodies_off": "Bodies are not being recorded (the log.bodies setting is off).",
    "logs.detail.bodies_missing": "Bodies were not recorded when this request ran.",
    "logs.detail.bodies_settings": "Turn it on in Settings",
    "logs.detail.pending": "This request is still being written to the log; its details follow in a moment.",
    "logs.detail.filter_key": "Requests of this key",
    "logs.detail.filter_credential": "Requests of this credential",
    "logs.detail.filter_client": "Requests from this address",
    "logs.detail.body_label": "{side} body",
    "logs.yes": "yes",
    "logs.no": "no",
    "logs.unknown_key": "no key accepted",
    "logs.s.200": "OK",
    "logs.s.2xx": "Succeeded",
    "logs.s.400": "Bad request",
    "logs.s.401": "Wrong or missing key",
    "logs.s.403": "Not allowed",
    "logs.s.404": "Not found",
    "logs.s.408": "Timed out",
    "logs.s.413": "Too large",
    "logs.s.429": "Rate limited",
    "logs.s.4xx": "Refused",
    "logs.s.499": "Client went away",
    "logs.s.500": "Gateway error",
    "logs.s.502": "Upstream error",
    "logs.s.503": "No credential available",
    "logs.s.504": "Upstream timed out",
    "logs.s.529": "Upstream overloaded",
    "logs.s.5xx": "Failed",
    "logs.e.rate_limit_error": "Rate limit",
    "logs.e.authentication_error": "Authentication",
    "logs.e.permission_error": "Permission",
    "logs.e.invalid_request_error": "Invalid request",
    "logs.e.not_found_error": "Not found",
    "logs.e.request_too_large": "Request too large",
    "logs.e.overloaded_error": "Overloaded",
    "logs.e.api_error": "Gateway or upstream error",
    "logs.e.server_error": "Server error",
    "logs.e.timeout_error": "Timeout",
  },
  "zh-CN": {
    "logs.subtitle": "客户端路由上的每一个请求，最新的在前。",
    "logs.live": "实时",
    "logs.live_on": "新请求完成后会立即出现",
    "logs.live_off": "已暂停：不再添加新请求",
    "logs.refresh": "刷新",
    "logs.export": "导出 CSV",
    "logs.filters": "筛选",
    "logs.clear": "清除筛选",
    "logs.f.range": "时间",
    "logs.f.since": "开始",
    "logs.f.until": "结束",
    "logs.f.status": "状态",
    "logs.f.model": "模型",
    "logs.f.key": "API 密钥",
    "logs.f.credential": "凭证",
    "logs.f.client": "地址",
    "logs.f.endpoint": "端点",
    "logs.f.model_hint": "claude-sonnet-4-5",
    "logs.f.client_hint": "203.0.113.9",
    "logs.range.any": "全部时间",
    "logs.range.15m": "最近 15 分钟",
    "logs.range.1h": "最近 1 小时",
    "logs.range.24h": "最近 24 小时",
    "logs.range.7d": "最近 7 天",
    "logs.range.30d": "最近 30 天",
    "logs.range.custom": "自定义范围",
    "logs.status.any": "全部状态",
    "logs.status.2xx": "成功 (2xx)",
    "logs.status.4xx": "被拒绝 (4xx)",
    "logs.status.5xx": "失败 (5xx)",
    "logs.any": "全部",
    "logs.key.default": "default（配置的密钥）",
    "logs.col.time": "时间",
    "logs.col.status": "状态",
    "logs.col.endpoint": "端点",
    "logs.col.model": "模型",
    "logs.col.key": "密钥",
    "logs.col.credential": "凭证",
    "logs.col.client": "地址",
    "logs.col.tokens": "Token",
    "logs.col.ttft": "首 Token",
    "logs.col.duration": "耗时",
    "logs.table": "请求",
    "logs.open": "详情",
    "logs.more": "显示更早的请求",
    "logs.end": "所有匹配的请求都已显示。",
    "logs.trimmed": "实时模式下只保留最新的 {count} 条；刷新后可继续向前翻页。",
    "logs.shown": "已显示 {count} 个请求",
    "logs.writing": "正在写入…",
    "logs.empty.title": "还没有请求",
    "logs.empty.text": "发往 /v1/messages、/v1/chat/completions 和 /v1/responses 的请求完成后会显示在这里。",
    "logs.empty.connect": "接入客户端",
    "logs.empty.filtered": "没有符合筛选条件的请求",
    "logs.empty.filtered_text": "请扩大时间范围或清除某个筛选条件。",
    "logs.none": "无",
    "logs.credential_n": "#{id}",
    "logs.detail.title": "请求详情",
    "logs.detail.timing": "耗时",
    "logs.detail.tokens": "Token",
    "logs.detail.route": "来源与去向",
    "logs.detail.duration": "总耗时",
    "logs.detail.ttft": "首 Token 时间",
    "logs.detail.upstream": "首 Token 之后",
    "logs.detail.streamed": "流式",
    "logs.detail.input": "输入",
    "logs.detail.output": "输出",
    "logs.detail.total": "合计",
    "logs.detail.key": "API 密钥",
    "logs.detail.credential": "凭证",
    "logs.detail.client": "地址",
    "logs.detail.request_id": "请求 ID",
    "logs.detail.model": "请求的模型",
    "logs.detail.model_sent": "发往上游的模型",
    "logs.detail.endpoint": "端点",
    "logs.detail.error": "错误",
    "logs.detail.bodies": "请求体与响应体",
    "logs.detail.request_body": "请求",
    "logs.detail.response_body": "响应",
    "logs.detail.no_body": "这一侧没有记录内容。",
    "logs.detail.bodies_off": "当前没有记录请求体（log.bodies 设置已关闭）。",
    "logs.detail.bodies_missing": "这个请求发生时没有记录请求体。",
    "logs.detail.bodies_settings": "在设置中开启",
    "logs.detail.pending": "这个请求正在写入日志，详情稍后显示。",
    "logs.detail.filter_key": "该密钥的请求",
    "logs.detail.filter_credential": "该凭证的请求",
    "logs.detail.filter_client": "来自该地址的请求",
    "logs.detail.body_label": "{side}内容",
    "logs.yes": "是",
    "logs.no": "否",
    "logs.unknown_key": "未通过密钥验证",
    "logs.s.200": "成功",
    "logs.s.2xx": "成功",
    "logs.s.400": "请求有误",
    "logs.s.401": "密钥错误或缺失",
    "logs.s.403": "不允许",
    "logs.s.404": "未找到",
    "logs.s.408": "超时",
    "logs.s.413": "内容过大",
    "logs.s.429": "触发限流",
    "logs.s.4xx": "被拒绝",
    "logs.s.499": "客户端已断开",
    "logs.s.500": "网关错误",
    "logs.s.502": "上游错误",
    "logs.s.503": "没有可用凭证",
    "logs.s.504": "上游超时",
    "logs.s.529": "上游过载",
    "logs.s.5xx": "失败",
    "logs.e.rate_limit_error": "限流",
    "logs.e.authentication_error": "身份验证",
    "logs.e.permission_error": "权限",
    "logs.e.invalid_request_error": "无效请求",
    "logs.e.not_found_error": "未找到",
    "logs.e.request_too_large": "请求过大",
    "logs.e.overloaded_error": "过载",
    "logs.e.api_error": "网关或上游错误",
    "logs.e.server_error": "服务器错误",
    "logs.e.timeout_error": "超时",
  },
});

const RANGES = { "15m": 15 * 60, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const ENDPOINTS = ["/v1/messages", "/v1/chat/completions", "/v1/responses", "/v1/messages/count_tokens", "/cc/v1/messages", "/v1/models"];
const STATUSES = ["2xx", "4xx", "5xx", "400", "401", "429", "500", "502", "503"];
const FILTER_NAMES = ["range", "since", "until", "status", "model", "key", "credential", "client", "endpoint"];
// Other names a link may use for a filter (the API's own names): read, then written back short.
const ALIASES = { key_id: "key", key_name: "key", credential_id: "credential", address: "client" };
const PAGE_SIZE = 50;
const MAX_LIVE_ROWS = 500;

// ---- filters: the address's query <-> the API's query

function readFilters(query) {
  const filters = {};
  for (const name of FILTER_NAMES) filters[name] = query.get(name) || "";
  for (const [alias, name] of Object.entries(ALIASES)) if (!filters[name] && query.get(alias)) filters[name] = query.get(alias);
  if (!filters.range && (filters.since || filters.until)) filters.range = "custom";
  if (filters.range !== "custom") {
    filters.since = "";
    filters.until = "";
  }
  return filters;
}

function hasFilters(filters) {
  return FILTER_NAMES.some((name) => filters[name]);
}

function isoOf(value) {
  const date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

function apiQuery(filters) {
  const query = {
    status: filters.status,
    model: filters.model,
    credential_id: filters.credential,
    client: filters.client,
    endpoint: filters.endpoint,
  };
  if (/^\d+$/.test(filters.key)) query.key_id = filters.key;
  else if (filters.key) query.key_name = filters.key;
  if (RANGES[filters.range]) query.since = new Date(Date.now() - RANGES[filters.range] * 1000).toISOString();
  if (filters.range === "custom") {
    if (filters.since) query.since = isoOf(filters.since);
    if (filters.until) query.until = isoOf(filters.until);
  }
  return query;
}

// Whether a live event's request passes the filters (the API decides for listed rows).
function passes(filters, row) {
  if (filters.range === "custom" && filters.until) return false;
  const status = String(row.status);
  if (filters.status && !(filters.status.endsWith("xx") ? status[0] === filters.status[0] : status === filters.status)) return false;
  if (filters.model && row.model !== filters.model && row.model_sent !== filters.model) return false;
  if (filters.key && String(row.key_id ?? "") !== filters.key && row.key_name !== filters.key) return false;
  if (filters.credential && String(row.credential_id ?? "") !== filters.credential) return false;
  if (filters.client && row.client_address !== filters.client) return false;
  if (filters.endpoint && row.endpoint !== filters.endpoint) return false;
  return true;
}

// "2026-12-07T10:00" for a datetime-local input, in the browser's time zone.
function localInput(value) {
  if (!value) return "";
  const date = new Date(isoOf(value));
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// ---- words for statuses and errors

function statusTone(status) {
  if (status < 300) return "ok";
  if (status === 429 || status === 499) return "warn";
  return status < 500 ? "warn" : "bad";
}

// t() records a key no table has; these lookups probe, so they ask only for keys that exist.
const KNOWN_STATUS = new Set(["200", "400", "401", "403", "404", "408", "413", "429", "499", "500", "502", "503", "504", "529"]);
const KNOWN_ERROR = new Set([
  "rate_limit_error", "authentication_error", "permission_error", "invalid_request_error", "not_found_error",
  "request_too_large", "overloaded_error", "api_error", "server_error", "timeout_error",
]);

function statusText(status) {
  if (KNOWN_STATUS.has(String(status))) return t(`logs.s.${status}`);
  const group = String(status)[0];
  return t(`logs.s.${group === "2" || group === "4" || group === "5" ? group : "5"}xx`);
}

function errorText(type) {
  if (!type) return "";
  return KNOWN_ERROR.has(type) ? t(`logs.e.${type}`) : type;
}

function StatusBadge({ status }) {
  return html`<${Badge} tone=${statusTone(status)} title=${statusText(status)}>${status}<//>`;
}

function When({ at }) {
  return html`<time datetime=${at} title=${fmtDate(at, true)}>${fmtRelative(at)}</time>`;
}

function keyText(row) {
  if (row.key_name) return row.key_name;
  if (row.key_id !== null && row.key_id !== undefined) return `#${row.key_id}`;
  return null;
}

// ---- the page

export default function LogsPage({ query }) {
  const filters = useMemo(() => readFilters(query), [query.toString()]);
  const filterKey = JSON.stringify(filters);
  const [state, setState] = useState({ rows: [], cursor: null, loading: true, error: null, more: false, trimmed: false });
  const [fresh, setFresh] = useState(() => new Set());
  const [liveOn, setLiveOn] = useState(true);
  // Set at the click itself: an event already on its way is dropped once paused.
  const liveRef = useRef(true);
  const [open, setOpen] = useState(null);
  const [, setTick] = useState(0);
  const generation = useRef(0);

  // Relative times ("2 minutes ago") move on while the page is open.
  useInterval(() => setTick((tick) => tick + 1), 20000);

  async function load() {
    const mine = ++generation.current;
    setState((previous) => ({ ...previous, loading: true, error: null }));
    try {
      const page = await api.get("/api/admin/logs", { ...apiQuery(filters), limit: PAGE_SIZE });
      if (mine !== generation.current) return;
      setState({ rows: page.rows, cursor: page.next_cursor, loading: false, error: null, more: false, trimmed: false });
      setFresh(new Set());
    } catch (error) {
      if (mine === generation.current) setState((previous) => ({ ...previous, loading: false, error }));
    }
  }

  async function loadMore() {
    const mine = generation.current;
    setState((previous) => ({ ...previous, more: true }));
    try {
      const page = await api.get("/api/admin/logs", { ...apiQuery(filters), limit: PAGE_SIZE, cursor: state.cursor });
      if (mine !== generation.current) return;
      setState((previous) => {
        const known = new Set(previous.rows.map((row) => row.id));
        return { ...previous, rows: [...previous.rows, ...page.rows.filter((row) => !known.has(row.id))], cursor: page.next_cursor, more: false };
      });
    } catch (error) {
      if (mine === generation.current) setState((previous) => ({ ...previous, more: false, error }));
    }
  }

  useEffect(() => {
    load();
  }, [filterKey]);

  useLive(liveOn, liveRef, filters, filterKey, generation, setState, setFresh);

  function setFilters(changes) {
    const next = { ...filters, ...changes };
    if (next.range !== "custom") {
      next.since = "";
      next.until = "";
    }
    navigate("logs", next, { replace: true });
  }

  const exportHref = url("/api/admin/logs/export", apiQuery(filters));
  const actions = html`
    <div class="logs-live" title=${t(liveOn ? "logs.live_on" : "logs.live_off")}>
      <span class=${"logs-live-dot" + (liveOn ? " on" : "")} aria-hidden="true"></span>
      <label for="logs-live-switch">${t("logs.live")}</label>
      <${Switch} id="logs-live-switch" checked=${liveOn} label=${t("logs.live")} onChange=${(on) => {
        liveRef.current = on;
        setLiveOn(on);
        if (on) load();
      }} />
    </div>
    <${Button} icon="refresh" onClick=${load} busy=${state.loading && state.rows.length > 0}>${t("logs.refresh")}<//>
    <a class="btn btn-secondary" href=${exportHref} download><${Icon} name="download" size=${16} /><span>${t("logs.export")}</span></a>`;

  return html`<div class="logs-page">
    <${PageHeader} title=${t("nav.logs")} subtitle=${t("logs.subtitle")} actions=${actions} />
    <${Filters} filters=${filters} onChange=${setFilters} />
    <p class="sr-only" role="status">${t(liveOn ? "logs.live_on" : "logs.live_off")}</p>
    <${Card} className="logs-card">
      ${state.error && html`<${ErrorNote} error=${state.error} retry=${load} />`}
      ${state.loading && state.rows.length === 0 ? html`<${Loading} />` : html`
        <${LogTable} rows=${state.rows} fresh=${fresh} onOpen=${setOpen} selected=${open}
          empty=${html`<${EmptyLogs} filtered=${hasFilters(filters)} onClear=${() => navigate("logs", {}, { replace: true })} />`} />
        ${state.rows.length > 0 && html`<div class="logs-foot">
          <span class="muted small">${t("logs.shown", { count: fmtNumber(state.rows.length) })}</span>
          ${state.cursor
            ? html`<${Button} size="sm" busy=${state.more} onClick=${loadMore}>${t("logs.more")}<//>`
            : html`<span class="muted small">${t(state.trimmed ? "logs.trimmed" : "logs.end", { count: fmtNumber(MAX_LIVE_ROWS) })}</span>`}
        </div>`}`}
    <//>
    <${Detail} row=${open} rows=${state.rows} onClose=${() => setOpen(null)} />
  </div>`;
}

// New requests from the live feed: shown at once (the event has everything a row shows), then
// replaced by the stored rows (with their ids, for the detail) once the writer has them.
function useLive(liveOn, liveRef, filters, filterKey, generation, setState, setFresh) {
  useEffect(() => {
    if (!liveOn) return undefined;
    let timer = null;
    let tries = 0;
    async function settle() {
      timer = null;
      const mine = generation.current;
      let page;
      try {
        page = await api.get("/api/admin/logs", { ...apiQuery(filters), limit: PAGE_SIZE });
      } catch {
        return; // the next event or a refresh tries again
      }
      if (mine !== generation.current || !liveRef.current) return;
      let pending = 0;
      setState((previous) => {
        const merged = mergeRows(previous.rows, page.rows);
        pending = merged.filter((row) => row.id === undefined).length;
        return { ...previous, rows: merged };
      });
      // The writer flushes every second: look again a little later for rows not there yet.
      if (pending && ++tries < 4) timer = setTimeout(settle, 1500);
    }
    const close = live((kind, event) => {
      if (kind !== "request.finished" || !liveRef.current) return;
      const data = event.data || {};
      const row = { ...data, id: undefined, request_id: data.id, at: data.at || event.at };
      if (typeof row.at === "number") row.at = new Date(row.at * 1000).toISOString();
      if (!passes(filters, row)) return;
      setState((previous) => {
        if (previous.rows.some((known) => known.id === undefined && known.request_id === row.request_id)) return previous;
        const rows = [row, ...previous.rows];
        // A page left open on a busy gateway keeps the newest rows only; paging on from a cut
        // list would skip rows, so older ones are then reached through a refresh.
        if (rows.length <= MAX_LIVE_ROWS) return { ...previous, rows };
        return { ...previous, rows: rows.slice(0, MAX_LIVE_ROWS), cursor: null, trimmed: true };
      });
      setFresh((previous) => new Set(previous).add(row.request_id));
      // Throttled, not debounced: under steady traffic the stored rows still follow.
      if (!timer) {
        tries = 0;
        timer = setTimeout(settle, 1200);
      }
    });
    return () => {
      close();
      if (timer) clearTimeout(timer);
    };
  }, [liveOn, filterKey]);
}

function mergeRows(previous, stored) {
  const byRequest = new Map(stored.map((row) => [row.request_id, row]));
  const known = new Set(previous.filter((row) => row.id !== undefined).map((row) => row.id));
  const pending = previous.filter((row) => row.id === undefined && !byRequest.has(row.request_id));
  const settled = previous.filter((row) => row.id !== undefined);
  const added = stored.filter((row) => !known.has(row.id));
  return [...pending, ...[...added, ...settled].sort((a, b) => b.id - a.id)];
}

// ---- filters

function Filters({ filters, onChange }) {
  const [keys, setKeys] = useState([]);
  const [credentials, setCredentials] = useState([]);
  // On a phone the filters fold away behind a button (always shown on wider screens).
  const [shown, setShown] = useState(false);
  useEffect(() => {
    // The pickers' choices; the filters still work (as plain values) if either list fails.
    api.get("/api/admin/keys").then((answer) => setKeys(answer.keys || []), () => setKeys([]));
    api.get("/api/admin/credentials").then((answer) => setCredentials(answer.credentials || []), () => setCredentials([]));
  }, []);

  const keyOptions = [["", t("logs.any")]];
  for (const key of keys) keyOptions.push(key.id === "default" ? ["default", t("logs.key.default")] : [String(key.id), key.name || `#${key.id}`]);
  if (filters.key && !keyOptions.some(([value]) => value === filters.key)) keyOptions.push([filters.key, filters.key]);

  const credentialOptions = [["", t("logs.any")]];
  for (const credential of credentials) {
    const name = credential.email || credential.label || credential.authMethod || "";
    credentialOptions.push([String(credential.id), name ? `#${credential.id} · ${name}` : `#${credential.id}`]);
  }
  if (filters.credential && !credentialOptions.some(([value]) => value === filters.credential)) {
    credentialOptions.push([filters.credential, `#${filters.credential}`]);
  }

  const statusOptions = [["", t("logs.status.any")], ...STATUSES.map((status) => [status, status.endsWith("xx") ? t(`logs.status.${status}`) : `${status} · ${statusText(Number(status))}`])];
  if (filters.status && !STATUSES.includes(filters.status)) statusOptions.push([filters.status, filters.status]);
  const endpointOptions = [["", t("logs.any")], ...ENDPOINTS.map((endpoint) => [endpoint, endpoint])];
  if (filters.endpoint && !ENDPOINTS.includes(filters.endpoint)) endpointOptions.push([filters.endpoint, filters.endpoint]);
  const rangeOptions = [["", t("logs.range.any")], ...Object.keys(RANGES).map((range) => [range, t(`logs.range.${range}`)]), ["custom", t("logs.range.custom")]];

  const active = FILTER_NAMES.filter((name) => filters[name] && name !== "since" && name !== "until").length;
  return html`<section class=${"card logs-filters" + (shown ? " open" : "")} aria-label=${t("logs.filters")}>
    <button type="button" class="btn btn-secondary logs-filter-toggle" aria-expanded=${shown ? "true" : "false"}
      aria-controls="logs-filter-grid" onClick=${() => setShown(!shown)}>
      <${Icon} name="filter" size=${16} /><span>${t("logs.filters")}</span>
      ${active > 0 && html`<span class="badge badge-info">${active}</span>`}
    </button>
    <div class="logs-filter-grid" id="logs-filter-grid">
      <${Field} label=${t("logs.f.range")}>${(ids) => html`<${Select} ...${ids} options=${rangeOptions} value=${filters.range}
        onChange=${(range) => onChange({ range })} />`}<//>
      ${filters.range === "custom" && html`
        <${Field} label=${t("logs.f.since")}>${(ids) => html`<${Input} ...${ids} type="datetime-local" value=${localInput(filters.since)}
          onChange=${(event) => onChange({ since: event.target.value })} />`}<//>
        <${Field} label=${t("logs.f.until")}>${(ids) => html`<${Input} ...${ids} type="datetime-local" value=${localInput(filters.until)}
          onChange=${(event) => onChange({ until: event.target.value })} />`}<//>`}
      <${Field} label=${t("logs.f.status")}>${(ids) => html`<${Select} ...${ids} options=${statusOptions} value=${filters.status}
        onChange=${(status) => onChange({ status })} />`}<//>
      <${Field} label=${t("logs.f.model")}>${(ids) => html`<${TextFilter} ids=${ids} value=${filters.model} placeholder=${t("logs.f.model_hint")}
        onCommit=${(model) => onChange({ model })} />`}<//>
      <${Field} label=${t("logs.f.endpoint")}>${(ids) => html`<${Select} ...${ids} options=${endpointOptions} value=${filters.endpoint}
        onChange=${(endpoint) => onChange({ endpoint })} />`}<//>
      <${Field} label=${t("logs.f.key")}>${(ids) => html`<${Select} ...${ids} options=${keyOptions} value=${filters.key}
        onChange=${(key) => onChange({ key })} />`}<//>
      <${Field} label=${t("logs.f.credential")}>${(ids) => html`<${Select} ...${ids} options=${credentialOptions} value=${filters.credential}
        onChange=${(credential) => onChange({ credential })} />`}<//>
      <${Field} label=${t("logs.f.client")}>${(ids) => html`<${TextFilter} ids=${ids} value=${filters.client} placeholder=${t("logs.f.client_hint")}
        onCommit=${(client) => onChange({ client })} />`}<//>
      ${hasFilters(filters) && html`<div class="logs-filter-clear">
        <${Button} variant="ghost" icon="close" onClick=${() => navigate("logs", {}, { replace: true })}>${t("logs.clear")}<//>
      </div>`}
    </div>
  </section>`;
}

// A text filter applied when the operator presses Enter or leaves the field (not per letter).
function TextFilter({ ids, value, placeholder, onCommit }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const commit = () => text.trim() !== value && onCommit(text.trim());
  return html`<${Input} ...${ids} type="search" value=${text} placeholder=${placeholder} spellcheck="false" autocomplete="off"
    onInput=${(event) => setText(event.target.value)} onBlur=${commit}
    onKeyDown=${(event) => event.key === "Enter" && commit()} />`;
}

function EmptyLogs({ filtered, onClear }) {
  if (filtered) {
    return html`<${Empty} icon="filter" title=${t("logs.empty.filtered")} text=${t("logs.empty.filtered_text")}
      action=${html`<${Button} onClick=${onClear}>${t("logs.clear")}<//>`} />`;
  }
  return html`<${Empty} icon="logs" title=${t("logs.empty.title")} text=${t("logs.empty.text")}
    action=${html`<a class="btn btn-primary" href=${href("connect")} onClick=${(event) => {
      event.preventDefault();
      navigate("connect");
    }}>${t("logs.empty.connect")}</a>`} />`;
}

// ---- the table

// A stored row by its id; a live row not stored yet by its request id (a client may send its
// own x-request-id, so that alone does not tell stored rows apart).
function rowId(row) {
  return row.id !== undefined ? row.id : "r:" + row.request_id;
}

function LogTable({ rows, fresh, onOpen, selected, empty }) {
  if (!rows.length) return empty;
  const selectedId = selected ? rowId(selected) : null;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${t("logs.table")}>
    <table class="table logs-table">
      <caption class="sr-only">${t("logs.table")}</caption>
      <thead><tr>
        <th scope="col">${t("logs.col.time")}</th>
        <th scope="col">${t("logs.col.status")}</th>
        <th scope="col" class="logs-mid">${t("logs.col.endpoint")}</th>
        <th scope="col">${t("logs.col.model")}</th>
        <th scope="col" class="logs-wide">${t("logs.col.key")}</th>
        <th scope="col" class="logs-wide">${t("logs.col.credential")}</th>
        <th scope="col" class="logs-wide">${t("logs.col.client")}</th>
        <th scope="col" class="align-right logs-wide">${t("logs.col.tokens")}</th>
        <th scope="col" class="align-right logs-wide">${t("logs.col.ttft")}</th>
        <th scope="col" class="align-right">${t("logs.col.duration")}</th>
      </tr></thead>
      <tbody>
        ${rows.map((row) => html`<${LogRow} key=${rowId(row)} row=${row} onOpen=${onOpen}
          isFresh=${fresh.has(row.request_id)} isSelected=${selectedId === rowId(row)} />`)}
      </tbody>
    </table>
  </div>`;
}

function LogRow({ row, onOpen, isFresh, isSelected }) {
  const key = keyText(row);
  const classes = ["clickable", isFresh && "logs-fresh", isSelected && "selected", row.id === undefined && "logs-pending"].filter(Boolean).join(" ");
  return html`<tr class=${classes} data-request-id=${row.request_id} onClick=${() => onOpen(row)}>
    <td class="nowrap">
      <button type="button" class="logs-open" onClick=${(event) => {
        event.stopPropagation();
        onOpen(row);
      }}><${When} at=${row.at} /><span class="sr-only"> · ${t("logs.open")}</span></button>
    </td>
    <td class="nowrap"><${StatusBadge} status=${row.status} /> <span class="logs-status-words">${row.status >= 400 ? statusText(row.status) : ""}</span></td>
    <td class="mono small nowrap logs-mid">${row.endpoint}</td>
    <td class="logs-model truncate" title=${row.model_sent && row.model_sent !== row.model ? `${row.model} → ${row.model_sent}` : row.model}>${row.model || html`<span class="muted">–</span>`}</td>
    <td class="logs-wide truncate">${key ?? html`<span class="muted">–</span>`}</td>
    <td class="logs-wide nowrap">${row.credential_id != null ? t("logs.credential_n", { id: row.credential_id }) : html`<span class="muted">–</span>`}</td>
    <td class="logs-wide mono small nowrap">${row.client_address || html`<span class="muted">–</span>`}</td>
    <td class="align-right logs-wide nowrap">${row.input_tokens == null && row.output_tokens == null ? html`<span class="muted">–</span>`
      : html`${fmtNumber(row.input_tokens)} <span class="muted">/</span> ${fmtNumber(row.output_tokens)}`}</td>
    <td class="align-right logs-wide nowrap">${fmtDuration(row.ttft_ms)}</td>
    <td class="align-right nowrap">${row.id === undefined ? html`<span class="muted small" title=${t("logs.writing")}>${fmtDuration(row.latency_ms)}</span>` : fmtDuration(row.latency_ms)}</td>
  </tr>`;
}

// ---- the detail

function Detail({ row, rows, onClose }) {
  // A row that came from the live feed gets its stored twin (with an id) when that arrives.
  const current = row && row.id === undefined ? rows.find((item) => item.request_id === row.request_id && item.id !== undefined) || row : row;
  const id = current ? current.id : undefined;
  const [detail, setDetail] = useState({ data: null, error: null, loading: false });
  const [bodiesOn, setBodiesOn] = useState(null);

  useEffect(() => {
    if (id === undefined) {
      setDetail({ data: null, error: null, loading: false });
      return undefined;
    }
    let alive = true;
    setDetail({ data: null, error: null, loading: true });
    api.get(`/api/admin/logs/${id}`).then(
      (data) => alive && setDetail({ data, error: null, loading: false }),
      (error) => alive && setDetail({ data: null, error, loading: false }),
    );
    return () => {
      alive = false;
    };
  }, [id]);

  useEffect(() => {
    if (!row || bodiesOn !== null) return;
    api.get("/api/admin/settings").then(
      (answer) => {
        const setting = (answer.settings || []).find((item) => item.key === "log.bodies");
        setBodiesOn(Boolean(setting && setting.value));
      },
      () => setBodiesOn(false),
    );
  }, [row]);

  if (!row) return html`<${Modal} open=${false} title="" />`;
  const shown = detail.data || current;
  return html`<${Modal} open=${true} wide title=${t("logs.detail.title")} onClose=${onClose}>
    <div class="logs-detail">
      <div class="logs-detail-head">
        <div class="logs-detail-line">
          <${StatusBadge} status=${shown.status} />
          <strong>${statusText(shown.status)}</strong>
          <span class="muted">·</span>
          <time class="muted" datetime=${shown.at}>${fmtDate(shown.at, true)} (${fmtRelative(shown.at)})</time>
        </div>
        <div class="logs-detail-line">
          <span class="mono small logs-chip" title=${t("logs.detail.endpoint")}>${shown.endpoint}</span>
          ${shown.model && html`<span class="logs-chip" title=${t("logs.detail.model")}>${shown.model}</span>`}
          ${shown.model_sent && shown.model_sent !== shown.model && html`<span class="muted" aria-hidden="true">→</span>
            <span class="logs-chip" title=${t("logs.detail.model_sent")}><span class="sr-only">${t("logs.detail.model_sent")}: </span>${shown.model_sent}</span>`}
        </div>
      </div>
      ${shown.id === undefined && html`<${Note}>${t("logs.detail.pending")}<//>`}
      ${detail.error && html`<${ErrorNote} error=${detail.error} />`}
      ${(shown.error || shown.error_type) && html`<div class="note note-bad logs-error" role="note">
        <${Icon} name="alert" />
        <div>
          <div class="logs-error-type">${errorText(shown.error_type) || t("logs.detail.error")}</div>
          ${shown.error && html`<div class="logs-error-text">${shown.error}</div>`}
        </div>
      </div>`}
      <div class="logs-facts-grid">
        <${FactCard} title=${t("logs.detail.timing")} facts=${[
          [t("logs.detail.duration"), fmtDuration(shown.latency_ms)],
          [t("logs.detail.ttft"), fmtDuration(shown.ttft_ms)],
          [t("logs.detail.upstream"), shown.latency_ms != null && shown.ttft_ms != null ? fmtDuration(Math.max(0, shown.latency_ms - shown.ttft_ms)) : "–"],
          [t("logs.detail.streamed"), shown.streamed == null ? "–" : t(shown.streamed ? "logs.yes" : "logs.no")],
        ]} />
        <${FactCard} title=${t("logs.detail.tokens")} facts=${[
          [t("logs.detail.input"), fmtNumber(shown.input_tokens)],
          [t("logs.detail.output"), fmtNumber(shown.output_tokens)],
          [t("logs.detail.total"), shown.input_tokens == null && shown.output_tokens == null ? "–" : fmtNumber((shown.input_tokens || 0) + (shown.output_tokens || 0))],
        ]} />
        <${FactCard} title=${t("logs.detail.route")} facts=${[
          [t("logs.detail.key"), keyText(shown)
            ? html`<${FilterLink} filter=${{ key: shown.key_id != null ? String(shown.key_id) : shown.key_name }} label=${t("logs.detail.filter_key")} onGo=${onClose}>${keyText(shown)}<//>`
            : html`<span class="muted">${t("logs.unknown_key")}</span>`],
          [t("logs.detail.credential"), shown.credential_id != null
            ? html`<${FilterLink} filter=${{ credential: String(shown.credential_id) }} label=${t("logs.detail.filter_credential")} onGo=${onClose}>#${shown.credential_id}<//>`
            : html`<span class="muted">${t("logs.none")}</span>`],
          [t("logs.detail.client"), shown.client_address
            ? html`<${FilterLink} filter=${{ client: shown.client_address }} label=${t("logs.detail.filter_client")} onGo=${onClose}><span class="mono">${shown.client_address}</span><//>`
            : "–"],
          [t("logs.detail.request_id"), html`<span class="mono small logs-break">${shown.request_id}</span>`],
        ]} />
      </div>
      ${shown.id !== undefined && html`<${Bodies} detail=${detail} bodiesOn=${bodiesOn} onClose=${onClose} />`}
    </div>
  <//>`;
}

function FactCard({ title, facts }) {
  return html`<section class="logs-facts" aria-label=${title}>
    <h3>${title}</h3>
    <dl>${facts.map(([label, value]) => html`<div class="logs-fact"><dt>${label}</dt><dd>${value}</dd></div>`)}</dl>
  </section>`;
}

// A link to this page filtered by one value (the key, the credential, the address).
function FilterLink({ filter, label, onGo, children }) {
  const target = `${href("logs")}?${new URLSearchParams(filter)}`;
  return html`<a href=${target} title=${label} onClick=${(event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    onGo();
    navigate("logs", filter, { replace: false });
  }}>${children}</a>`;
}

// A body as it was recorded: JSON pretty-printed; an event stream or other text as it is.
function readable(text) {
  if (text == null) return null;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function Bodies({ detail, bodiesOn, onClose }) {
  const [side, setSide] = useState("request");
  if (detail.loading) return html`<div class="logs-bodies"><h3>${t("logs.detail.bodies")}</h3><${Spinner} /></div>`;
  const data = detail.data;
  if (!data) return null;
  const settingsLink = html`<a href=${href("settings")} onClick=${(event) => {
    event.preventDefault();
    onClose();
    navigate("settings", { q: "log.bodies" });
  }}>${t("logs.detail.bodies_settings")}</a>`;
  if (data.request_body == null && data.response_body == null) {
    return html`<section class="logs-bodies" aria-label=${t("logs.detail.bodies")}>
      <h3>${t("logs.detail.bodies")}</h3>
      <${Note}>${bodiesOn ? t("logs.detail.bodies_missing") : html`${t("logs.detail.bodies_off")} ${settingsLink}`}<//>
    </section>`;
  }
  const text = readable(side === "request" ? data.request_body : data.response_body);
  const sideLabel = t(side === "request" ? "logs.detail.request_body" : "logs.detail.response_body");
  return html`<section class="logs-bodies" aria-label=${t("logs.detail.bodies")}>
    <div class="spread">
      <h3>${t("logs.detail.bodies")}</h3>
      ${text && html`<${CopyButton} text=${text} />`}
    </div>
    <${Tabs} label=${t("logs.detail.bodies")} value=${side} onChange=${setSide}
      tabs=${[["request", t("logs.detail.request_body")], ["response", t("logs.detail.response_body")]]} />
    ${text
      ? html`<pre class="logs-body" tabindex="0" aria-label=${t("logs.detail.body_label", { side: sideLabel })}><code>${text}</code></pre>`
      : html`<p class="muted">${t("logs.detail.no_body")}</p>`}
  </section>`;
}
