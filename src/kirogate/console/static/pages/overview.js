// The overview: the pool's health, traffic over time, errors, latency, the busiest keys and
// models, each credential's balance and a live feed of requests. Everything comes from the
// operator API (credentials, stats, logs) and stays current from /api/admin/live.
import { html, useState, useEffect, useRef, useMemo, useCallback } from "../lib/preact.js";
import { api, live, ROOT } from "../lib/api.js";
import { t, register, lang, fmtNumber, fmtCompact, fmtPercent, fmtRelative, fmtDuration } from "../lib/i18n.js";
import { navigate } from "../lib/router.js";
import { Icon } from "../lib/icons.js";
import { PageHeader, Card, Stat, Badge, Meter, Table, Empty, Button, Segmented, ErrorNote, Loading, Note, useInterval, loadStyle, toast, plainError } from "../lib/ui.js";

loadStyle("pages/overview.css");

register({
  en: {
    "overview.subtitle": "Your gateway at a glance, updated as requests finish.",
    "overview.range": "Time range",
    "overview.range.1h": "1h",
    "overview.range.24h": "24h",
    "overview.range.7d": "7d",
    "overview.range.30d": "30d",
    "overview.range.hint.1h": "last hour",
    "overview.range.hint.24h": "last 24 hours",
    "overview.range.hint.7d": "last 7 days",
    "overview.range.hint.30d": "last 30 days",
    "overview.range.in.1h": "in the last hour",
    "overview.range.in.24h": "in the last 24 hours",
    "overview.range.in.7d": "in the last 7 days",
    "overview.range.in.30d": "in the last 30 days",
    "overview.live": "Live",
    "overview.reconnecting": "Reconnecting…",
    "overview.updating": "Updating…",
    "overview.tile.requests": "Requests",
    "overview.tile.errors": "Error rate",
    "overview.tile.errors_hint": "4xx {c4} · 5xx {c5}",
    "overview.tile.tokens": "Tokens",
    "overview.tile.tokens_hint": "{input} in · {output} out",
    "overview.tile.latency": "Latency p50",
    "overview.tile.latency_hint": "p95 {p95} · TTFT {ttft}",
    "overview.tile.pool": "Usable credentials",
    "overview.tile.pool_value": "{usable} of {total}",
    "overview.tile.pool_hint": "{cooling} resting · {disabled} disabled",
    "overview.no_credentials.title": "No credentials yet",
    "overview.no_credentials.text": "Add one on the Credentials page: sign in with a Kiro account, import a token file, or paste a Kiro API key. Requests are refused until the pool has one.",
    "overview.no_credentials.action": "Add a credential",
    "overview.no_traffic.title": "No requests {range}",
    "overview.no_traffic.text": "Point a client at the gateway with a client key; its requests show up here as they finish.",
    "overview.no_traffic.connect": "Connect a client",
    "overview.no_traffic.playground": "Try the playground",
    "overview.no_store": "This gateway runs without a database, so it keeps no request log: the charts and totals need one. The live feed below still shows requests as they finish.",
    "overview.chart.requests": "Requests",
    "overview.chart.requests_sub": "Requests and failed requests per {bucket}",
    "overview.chart.tokens": "Tokens",
    "overview.chart.tokens_sub": "Input and output tokens per {bucket}",
    "overview.chart.latency": "Latency",
    "overview.chart.latency_sub": "Per {bucket}: p50, p95 and time to first token",
    "overview.bucket.minute": "minute",
    "overview.bucket.hour": "hour",
    "overview.bucket.day": "day",
    "overview.series.requests": "Requests",
    "overview.series.errors": "Failed",
    "overview.series.input": "Input",
    "overview.series.output": "Output",
    "overview.series.p50": "Latency p50",
    "overview.series.p95": "Latency p95",
    "overview.series.ttft": "TTFT p50",
    "overview.percentiles": "Percentiles",
    "overview.percentiles.caption": "Latency and time to first token percentiles",
    "overview.percentiles.what": "Measure",
    "overview.percentiles.latency": "Latency",
    "overview.percentiles.ttft": "Time to first token",
    "overview.pool.title": "Pool health",
    "overview.pool.subtitle": "{total} credentials · mode {mode}",
    "overview.pool.subtitle_one": "1 credential · mode {mode}",
    "overview.pool.bar": "Credential states: {summary}",
    "overview.mode.priority": "priority",
    "overview.mode.balanced": "balanced",
    "overview.mode.round_robin": "round robin",
    "overview.mode.random": "random",
    "overview.mode.weighted": "weighted",
    "overview.pool.usable": "Usable",
    "overview.pool.cooling": "Cooling down",
    "overview.pool.exhausted": "Quota used up",
    "overview.pool.disabled": "Disabled",
    "overview.pool.all_good": "Every credential is usable.",
    "overview.pool.attention": "Needing attention",
    "overview.pool.more": "{count} more on the Credentials page",
    "overview.pool.until": "back {when}",
    "overview.pool.manage": "Manage",
    "overview.reason.throttled": "rate-limited by the upstream (429)",
    "overview.reason.quota_exceeded": "monthly quota used up",
    "overview.reason.suspended": "temporarily suspended by the upstream",
    "overview.reason.refresh_failed": "token refresh failed, retrying later",
    "overview.reason.manual": "disabled by an operator",
    "overview.reason.too_many_failures": "too many failures in a row",
    "overview.reason.too_many_refresh_failures": "token refresh kept failing",
    "overview.reason.invalid_refresh_token": "refresh token rejected: log in again",
    "overview.reason.invalid_config": "its definition is invalid",
    "overview.reason.unknown": "no reason given",
    "overview.errors.title": "Errors by class",
    "overview.errors.subtitle": "{count} of {total} requests failed",
    "overview.errors.none": "No failed requests {range}.",
    "overview.errors.class": "Class",
    "overview.errors.type": "By type",
    "overview.errors.4xx": "Client errors (4xx)",
    "overview.errors.5xx": "Server errors (5xx)",
    "overview.errors.share": "{count} · {share}",
    "overview.top.keys": "Top keys",
    "overview.top.models": "Top models",
    "overview.top.key": "Key",
    "overview.top.model": "Model",
    "overview.top.requests": "Requests",
    "overview.top.errors": "Failed",
    "overview.top.tokens": "Tokens",
    "overview.top.share": "{share} of requests",
    "overview.top.default_key": "default (--api-key)",
    "overview.top.no_key": "refused before a key",
    "overview.top.unknown_model": "no model",
    "overview.top.none": "Nothing {range}.",
    "overview.balance.title": "Credential balances",
    "overview.balance.subtitle": "Showing {shown} of {total}, fullest first",
    "overview.balance.subtitle_all": "All {total}, fullest first",
    "overview.balance.credential": "Credential",
    "overview.balance.plan": "Plan",
    "overview.balance.usage": "Used this period",
    "overview.balance.usage_of": "Usage of credential {name}",
    "overview.balance.reset": "Resets",
    "overview.balance.unknown": "not fetched yet",
    "overview.balance.resets_in": "resets {when}",
    "overview.balance.refresh": "Fetch balances",
    "overview.balance.refreshed": "Balances updated.",
    "overview.balance.partly": "{failed} of {total} balances could not be fetched: {message}",
    "overview.balance.none_title": "No balance fetched yet",
    "overview.balance.none_text": "Balances are fetched in the background; fetch them now to see each credential's usage and its reset date.",
    "overview.balance.all": "All credentials",
    "overview.balance.every": "Show all {total}",
    "overview.balance.fewer": "Show the fullest only",
    "overview.feed.title": "Live requests",
    "overview.feed.subtitle": "The latest {count}, newest first",
    "overview.feed.waiting": "Waiting for requests…",
    "overview.feed.waiting_text": "Requests appear here the moment they finish.",
    "overview.feed.time": "Time",
    "overview.feed.status": "Status",
    "overview.feed.model": "Model",
    "overview.feed.key": "Key",
    "overview.feed.latency": "Latency",
    "overview.feed.tokens": "Tokens",
    "overview.feed.tokens_value": "{input} → {output}",
    "overview.feed.all": "All logs",
    "overview.feed.caption": "The latest requests",
  },
  "zh-CN": {
    "overview.subtitle": "网关概况一目了然，请求完成即刻更新。",
    "overview.range": "时间范围",
    "overview.range.1h": "1 小时",
    "overview.range.24h": "24 小时",
    "overview.range.7d": "7 天",
    "overview.range.30d": "30 天",
    "overview.range.hint.1h": "最近 1 小时",
    "overview.range.hint.24h": "最近 24 小时",
    "overview.range.hint.7d": "最近 7 天",
    "overview.range.hint.30d": "最近 30 天",
    "overview.range.in.1h": "（最近 1 小时）",
    "overview.range.in.24h": "（最近 24 小时）",
    "overview.range.in.7d": "（最近 7 天）",
    "overview.range.in.30d": "（最近 30 天）",
    "overview.live": "实时",
    "overview.reconnecting": "正在重新连接…",
    "overview.updating": "更新中…",
    "overview.tile.requests": "请求数",
    "overview.tile.errors": "错误率",
    "overview.tile.errors_hint": "4xx {c4} · 5xx {c5}",
    "overview.tile.tokens": "Token 用量",
    "overview.tile.tokens_hint": "输入 {input} · 输出 {output}",
    "overview.tile.latency": "延迟 p50",
    "overview.tile.latency_hint": "p95 {p95} · 首字 {ttft}",
    "overview.tile.pool": "可用凭证",
    "overview.tile.pool_value": "{usable} / {total}",
    "overview.tile.pool_hint": "冷却中 {cooling} · 已停用 {disabled}",
    "overview.no_credentials.title": "还没有凭证",
    "overview.no_credentials.text": "请到“凭证”页面添加：登录 Kiro 账号、导入令牌文件，或粘贴 Kiro API 密钥。凭证池为空时，所有请求都会被拒绝。",
    "overview.no_credentials.action": "添加凭证",
    "overview.no_traffic.title": "暂无请求{range}",
    "overview.no_traffic.text": "用客户端密钥把客户端接入网关，请求完成后会立即显示在这里。",
    "overview.no_traffic.connect": "接入客户端",
    "overview.no_traffic.playground": "打开调试台",
    "overview.no_store": "此网关未使用数据库，因此不保存请求日志，图表和汇总数据都依赖它。下方的实时请求仍会在请求完成时显示。",
    "overview.chart.requests": "请求",
    "overview.chart.requests_sub": "每{bucket}的请求数与失败数",
    "overview.chart.tokens": "Token",
    "overview.chart.tokens_sub": "每{bucket}的输入与输出 Token",
    "overview.chart.latency": "延迟",
    "overview.chart.latency_sub": "每{bucket}的 p50、p95 与首字时间",
    "overview.bucket.minute": "分钟",
    "overview.bucket.hour": "小时",
    "overview.bucket.day": "天",
    "overview.series.requests": "请求",
    "overview.series.errors": "失败",
    "overview.series.input": "输入",
    "overview.series.output": "输出",
    "overview.series.p50": "延迟 p50",
    "overview.series.p95": "延迟 p95",
    "overview.series.ttft": "首字 p50",
    "overview.percentiles": "分位数",
    "overview.percentiles.caption": "延迟与首字时间的分位数",
    "overview.percentiles.what": "指标",
    "overview.percentiles.latency": "延迟",
    "overview.percentiles.ttft": "首字时间",
    "overview.pool.title": "凭证池状态",
    "overview.pool.subtitle": "共 {total} 个凭证 · 模式 {mode}",
    "overview.pool.subtitle_one": "共 1 个凭证 · 模式 {mode}",
    "overview.pool.bar": "凭证状态：{summary}",
    "overview.mode.priority": "优先级",
    "overview.mode.balanced": "均衡",
    "overview.mode.round_robin": "轮询",
    "overview.mode.random": "随机",
    "overview.mode.weighted": "加权",
    "overview.pool.usable": "可用",
    "overview.pool.cooling": "冷却中",
    "overview.pool.exhausted": "额度已用完",
    "overview.pool.disabled": "已停用",
    "overview.pool.all_good": "所有凭证均可用。",
    "overview.pool.attention": "需要关注",
    "overview.pool.more": "还有 {count} 个，请到“凭证”页面查看",
    "overview.pool.until": "{when}恢复",
    "overview.pool.manage": "管理",
    "overview.reason.throttled": "被上游限流（429）",
    "overview.reason.quota_exceeded": "本月额度已用完",
    "overview.reason.suspended": "被上游临时停用",
    "overview.reason.refresh_failed": "令牌刷新失败，稍后重试",
    "overview.reason.manual": "由管理员停用",
    "overview.reason.too_many_failures": "连续失败次数过多",
    "overview.reason.too_many_refresh_failures": "令牌刷新多次失败",
    "overview.reason.invalid_refresh_token": "刷新令牌被拒绝：请重新登录",
    "overview.reason.invalid_config": "凭证配置无效",
    "overview.reason.unknown": "未说明原因",
    "overview.errors.title": "按类别统计错误",
    "overview.errors.subtitle": "{total} 个请求中有 {count} 个失败",
    "overview.errors.none": "没有失败的请求{range}。",
    "overview.errors.class": "类别",
    "overview.errors.type": "按类型",
    "overview.errors.4xx": "客户端错误（4xx）",
    "overview.errors.5xx": "服务端错误（5xx）",
    "overview.errors.share": "{count} · {share}",
    "overview.top.keys": "密钥排行",
    "overview.top.models": "模型排行",
    "overview.top.key": "密钥",
    "overview.top.model": "模型",
    "overview.top.requests": "请求数",
    "overview.top.errors": "失败",
    "overview.top.tokens": "Token",
    "overview.top.share": "占请求的 {share}",
    "overview.top.default_key": "默认（--api-key）",
    "overview.top.no_key": "验证密钥前即被拒绝",
    "overview.top.unknown_model": "未指定模型",
    "overview.top.none": "暂无数据{range}。",
    "overview.balance.title": "凭证余额",
    "overview.balance.subtitle": "显示 {total} 个中的 {shown} 个，用量最高的在前",
    "overview.balance.subtitle_all": "全部 {total} 个，用量最高的在前",
    "overview.balance.credential": "凭证",
    "overview.balance.plan": "套餐",
    "overview.balance.usage": "本期用量",
    "overview.balance.usage_of": "凭证 {name} 的用量",
    "overview.balance.reset": "重置时间",
    "overview.balance.unknown": "尚未获取",
    "overview.balance.resets_in": "{when}重置",
    "overview.balance.refresh": "获取余额",
    "overview.balance.refreshed": "余额已更新。",
    "overview.balance.partly": "{total} 个余额中有 {failed} 个获取失败：{message}",
    "overview.balance.none_title": "尚未获取余额",
    "overview.balance.none_text": "余额会在后台定期获取；现在获取即可查看每个凭证的用量和重置日期。",
    "overview.balance.all": "全部凭证",
    "overview.balance.every": "显示全部 {total} 个",
    "overview.balance.fewer": "只显示用量最高的",
    "overview.feed.title": "实时请求",
    "overview.feed.subtitle": "最近 {count} 个，最新的在前",
    "overview.feed.waiting": "等待请求…",
    "overview.feed.waiting_text": "请求一完成就会出现在这里。",
    "overview.feed.time": "时间",
    "overview.feed.status": "状态",
    "overview.feed.model": "模型",
    "overview.feed.key": "密钥",
    "overview.feed.latency": "延迟",
    "overview.feed.tokens": "Token",
    "overview.feed.tokens_value": "{input} → {output}",
    "overview.feed.all": "全部日志",
    "overview.feed.caption": "最近的请求",
  },
});

// Each range: its length, the stats bucket that gives a readable chart, the bucket's length.
const RANGES = {
  "1h": { seconds: 3600, bucket: "minute", step: 60 },
  "24h": { seconds: 86400, bucket: "hour", step: 3600 },
  "7d": { seconds: 7 * 86400, bucket: "hour", step: 3600 },
  "30d": { seconds: 30 * 86400, bucket: "day", step: 86400 },
};
const DEFAULT_RANGE = "24h";
const FEED_SIZE = 50;
const FEED_SEED = 20;
const TOP_ROWS = 6;
const BALANCE_ROWS = 8;
const ATTENTION_ROWS = 5;
const USABLE = new Set(["ready", "busy"]);
const MODES = ["priority", "balanced", "round_robin", "random", "weighted"];
const REASONS = ["throttled", "quota_exceeded", "suspended", "refresh_failed", "manual", "too_many_failures", "too_many_refresh_failures", "invalid_refresh_token", "invalid_config"];

// The first figures are asked for as soon as this module runs (the charts' code and uPlot
// load meanwhile): a page's first render and effects would come a round trip later.
let early = prefetch();

function prefetch() {
  const asked = new URLSearchParams(window.location.search).get("range");
  const range = asked in RANGES ? asked : DEFAULT_RANGE;
  const settle = (promise) => promise.then((data) => ({ data }), (error) => ({ error }));
  return {
    at: Date.now(),
    range,
    pool: settle(api.get("/api/admin/credentials")),
    stats: settle(statsFor(range)),
    feed: settle(api.get("/api/admin/logs", { limit: FEED_SEED })),
  };
}

// What was fetched early, once, if still fresh (a later visit asks again).
function takeEarly(part, range) {
  if (!early || Date.now() - early.at > 5000 || (range && early.range !== range) || !early[part]) return null;
  const promise = early[part];
  early[part] = null;
  return promise;
}

function statsFor(range) {
  const { seconds, bucket } = RANGES[range];
  return api.get("/api/admin/stats", { since: new Date(Date.now() - seconds * 1000).toISOString(), bucket });
}

const charts = import("../lib/charts.js");
charts.then((module) => module.loadCharts()).catch(() => {});
// uPlot is asked for now too, not once charts.js has run (its <script> then finds it cached).
const preload = document.createElement("link");
preload.rel = "preload";
preload.as = "script";
preload.href = `${ROOT}/admin/static/vendor/uPlot.iife.min.js`;
document.head.appendChild(preload);

// The chart, once its module is in (by the time figures arrive it always is).
function Chart(props) {
  const [module, setModule] = useState(null);
  useEffect(() => {
    charts.then(setModule, () => {});
  }, []);
  return module ? html`<${module.TimeChart} ...${props} />` : html`<div class="chart-box" style=${{ height: "200px" }}></div>`;
}

// ---- figures

// The bucket starts of the whole range (the stats leave empty buckets out; the chart needs them).
function timeline(stats, range) {
  const { step } = RANGES[range];
  const since = Date.parse(stats.since) / 1000;
  const until = Date.parse(stats.until) / 1000;
  const first = Math.floor(since / step) * step;
  const x = [];
  for (let at = first; at <= until; at += step) x.push(at);
  const byStart = new Map(stats.buckets.map((bucket) => [Math.floor(Date.parse(bucket.start) / 1000 / step) * step, bucket]));
  const pick = (read, empty) => x.map((at) => (byStart.has(at) ? read(byStart.get(at)) : empty));
  const failed = (bucket) => (bucket.errors["4xx"] || 0) + (bucket.errors["5xx"] || 0);
  return {
    x,
    requests: pick((bucket) => bucket.requests, 0),
    errors: pick(failed, 0),
    input: pick((bucket) => bucket.input_tokens, 0),
    output: pick((bucket) => bucket.output_tokens, 0),
    p50: pick((bucket) => bucket.latency_ms.p50, null),
    p95: pick((bucket) => bucket.latency_ms.p95, null),
    ttft: pick((bucket) => bucket.ttft_ms.p50, null),
  };
}

function failures(total) {
  return total ? (total.errors["4xx"] || 0) + (total.errors["5xx"] || 0) : 0;
}

// Which of the four health groups a credential is in.
function health(row) {
  if (USABLE.has(row.state)) return "usable";
  if (row.state === "disabled") return "disabled";
  if (row.cooldownReason === "quota_exceeded") return "exhausted";
  return "cooling";
}

function credentialName(row) {
  return row.email || row.label || `#${row.id}`;
}

function reasonText(row) {
  const reason = row.disabledReason || row.cooldownReason;
  if (!reason) return t("overview.reason.unknown");
  return REASONS.includes(reason) ? t(`overview.reason.${reason}`) : reason;
}

function keyName(row) {
  if (row.key_name === "default" && row.key_id === null) return t("overview.top.default_key");
  if (row.key_name) return row.key_name;
  return row.key_id === null || row.key_id === undefined ? t("overview.top.no_key") : `#${row.key_id}`;
}

function statusTone(status) {
  if (status >= 500) return "bad";
  if (status >= 400) return "warn";
  return "ok";
}

function fmtDay(seconds) {
  return new Intl.DateTimeFormat(lang(), { year: "numeric", month: "short", day: "numeric" }).format(new Date(seconds * 1000));
}

function fmtClock(value) {
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return "–";
  return new Intl.DateTimeFormat(lang(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(date);
}

// A feed row from a log row (the listing) or a live event's data: the same fields.
function feedRow(source) {
  return {
    key: source.request_id || String(source.id),
    at: source.at,
    status: source.status,
    model: source.model,
    key_id: source.key_id,
    key_name: source.key_name,
    latency_ms: source.latency_ms,
    input_tokens: source.input_tokens,
    output_tokens: source.output_tokens,
  };
}

// ---- data: credentials, stats and the feed, kept current by the live events

function useOverview(range) {
  const [pool, setPool] = useState({ data: null, error: null });
  const [stats, setStats] = useState({ data: null, error: null, loading: true, range });
  const [feed, setFeed] = useState({ rows: [], error: null, loaded: false });
  const [connected, setConnected] = useState(true);
  const rangeNow = useRef(range);
  const schedule = useRef({ timer: null, fetching: false, dirty: false, cost: 0 });
  const poolTimer = useRef(null);

  const loadPool = useCallback(async () => {
    const first = takeEarly("pool");
    try {
      const data = first ? await unwrap(first) : await api.get("/api/admin/credentials");
      setPool({ data, error: null });
    } catch (error) {
      setPool((previous) => ({ ...previous, error }));
    }
  }, []);

  const loadStats = useCallback(async () => {
    const asked = rangeNow.current;
    const first = takeEarly("stats", asked);
    const started = performance.now();
    setStats((previous) => ({ ...previous, loading: true }));
    try {
      const data = first ? await unwrap(first) : await statsFor(asked);
      schedule.current.cost = performance.now() - started;
      if (asked === rangeNow.current) setStats({ data, error: null, loading: false, range: asked });
    } catch (error) {
      if (asked === rangeNow.current) setStats((previous) => ({ ...previous, error, loading: false }));
    }
  }, []);

  const loadFeed = useCallback(async () => {
    const first = takeEarly("feed");
    try {
      const page = first ? await unwrap(first) : await api.get("/api/admin/logs", { limit: FEED_SEED });
      setFeed((previous) => ({ rows: merge(previous.rows, page.rows.map(feedRow)), error: null, loaded: true }));
    } catch (error) {
      setFeed((previous) => ({ ...previous, error, loaded: true }));
    }
  }, []);

  // Stats again after requests finished: not before their rows are written (within about a
  // second), and never more often than ten times what the last answer cost the database.
  const statsSoon = useCallback(() => {
    const plan = schedule.current;
    if (plan.timer) {
      if (plan.fetching) plan.dirty = true;
      return;
    }
    plan.dirty = false;
    plan.timer = setTimeout(async () => {
      plan.fetching = true;
      await loadStats();
      plan.fetching = false;
      plan.timer = null;
      if (plan.dirty) statsSoon();
    }, Math.max(1500, plan.cost * 10));
  }, [loadStats]);

  const poolSoon = useCallback(() => {
    clearTimeout(poolTimer.current);
    poolTimer.current = setTimeout(loadPool, 400);
  }, [loadPool]);

  useEffect(() => {
    loadPool();
    loadFeed();
    const close = live((kind, event) => {
      if (kind === "request.finished") {
        setFeed((previous) => ({ ...previous, rows: merge([feedRow(event.data)], previous.rows) }));
        statsSoon();
      } else if (kind === "credential.state") {
        poolSoon();
      }
    }, setConnected);
    return () => {
      close();
      clearTimeout(schedule.current.timer);
      clearTimeout(poolTimer.current);
    };
  }, []);

  useEffect(() => {
    rangeNow.current = range;
    loadStats();
  }, [range]);

  // Cooldowns end by themselves and the window slides: look again now and then.
  useInterval(loadPool, 30000);
  useInterval(statsSoon, 60000);

  const ready = (pool.data || pool.error) && (stats.data || stats.error) && feed.loaded;
  return { pool, stats, feed, connected, ready, reloadPool: loadPool, reloadStats: loadStats, reloadFeed: loadFeed };
}

async function unwrap(settled) {
  const { data, error } = await settled;
  if (error) throw error;
  return data;
}

// Newest first, each request once, at most FEED_SIZE.
function merge(newer, older) {
  const seen = new Set();
  const rows = [];
  for (const row of [...newer, ...older]) {
    if (seen.has(row.key)) continue;
    seen.add(row.key);
    rows.push(row);
    if (rows.length >= FEED_SIZE) break;
  }
  return rows;
}

// ---- pieces

function RangePicker({ value, onChange }) {
  return html`<${Segmented} label=${t("overview.range")} value=${value} onChange=${onChange}
    options=${Object.keys(RANGES).map((name) => [name, t("overview.range." + name)])} />`;
}

function Tiles({ total, pool, range }) {
  // No figures yet (loading, or no log store): dashes, not zeros that look like facts.
  const known = (read) => (total ? read(total) : null);
  const requests = known((figures) => figures.requests);
  const failed = known(failures);
  const rate = requests ? failed / requests : null;
  const rows = pool ? pool.credentials : [];
  const counts = countHealth(rows);
  const poolTone = !rows.length ? undefined : counts.usable === 0 ? "bad" : counts.usable < rows.length ? "warn" : "ok";
  const errorTone = rate === null ? undefined : rate > 0.05 ? "bad" : rate > 0.01 ? "warn" : undefined;
  return html`<div class="ov-tiles">
    <${Stat} label=${t("overview.tile.requests")} value=${fmtCompact(requests)} hint=${t("overview.range.hint." + range)} />
    <${Stat} label=${t("overview.tile.errors")} value=${fmtPercent(rate, 1)} tone=${errorTone}
      hint=${t("overview.tile.errors_hint", { c4: fmtNumber(known((f) => f.errors["4xx"])), c5: fmtNumber(known((f) => f.errors["5xx"])) })} />
    <${Stat} label=${t("overview.tile.tokens")} value=${fmtCompact(known((f) => f.input_tokens + f.output_tokens))}
      hint=${t("overview.tile.tokens_hint", { input: fmtCompact(known((f) => f.input_tokens)), output: fmtCompact(known((f) => f.output_tokens)) })} />
    <${Stat} label=${t("overview.tile.latency")} value=${fmtDuration(known((f) => f.latency_ms.p50))}
      hint=${t("overview.tile.latency_hint", { p95: fmtDuration(known((f) => f.latency_ms.p95)), ttft: fmtDuration(known((f) => f.ttft_ms.p50)) })} />
    <${Stat} label=${t("overview.tile.pool")} tone=${poolTone}
      value=${pool ? t("overview.tile.pool_value", { usable: fmtNumber(counts.usable), total: fmtNumber(rows.length) }) : "–"}
      hint=${t("overview.tile.pool_hint", { cooling: fmtNumber(counts.cooling + counts.exhausted), disabled: fmtNumber(counts.disabled) })} />
  </div>`;
}

function countHealth(rows) {
  const counts = { usable: 0, cooling: 0, exhausted: 0, disabled: 0 };
  for (const row of rows) counts[health(row)] += 1;
  return counts;
}

const HEALTH = [
  ["usable", "ok"],
  ["cooling", "warn"],
  ["exhausted", "info"],
  ["disabled", "bad"],
];

function PoolHealth({ pool }) {
  const rows = pool.credentials;
  const counts = countHealth(rows);
  const summary = HEALTH.map(([name]) => `${t("overview.pool." + name)} ${counts[name]}`).join(", ");
  const attention = rows.filter((row) => health(row) !== "usable");
  return html`<${Card} title=${t("overview.pool.title")} subtitle=${t(rows.length === 1 ? "overview.pool.subtitle_one" : "overview.pool.subtitle", { total: fmtNumber(rows.length), mode: MODES.includes(pool.mode) ? t("overview.mode." + pool.mode) : pool.mode })}
    actions=${html`<${Button} size="sm" variant="ghost" icon="chevron" onClick=${() => navigate("credentials")}>${t("overview.pool.manage")}<//>`}>
    <div class="ov-health-bar" role="img" aria-label=${t("overview.pool.bar", { summary })}>
      ${HEALTH.map(([name, tone]) => counts[name] ? html`<span class=${"ov-health-seg tone-" + tone} style=${{ flexGrow: counts[name] }}></span>` : null)}
    </div>
    <ul class="ov-health-legend">
      ${HEALTH.map(([name, tone]) => html`<li><span class=${"legend-dot tone-" + tone} aria-hidden="true"></span>
        <span>${t("overview.pool." + name)}</span><b>${fmtNumber(counts[name])}</b></li>`)}
    </ul>
    ${attention.length === 0
      ? html`<p class="ov-all-good"><${Icon} name="check" size=${16} /> ${t("overview.pool.all_good")}</p>`
      : html`<h3 class="ov-subhead">${t("overview.pool.attention")}</h3>
        <ul class="ov-attention">
          ${attention.slice(0, ATTENTION_ROWS).map((row) => html`<li key=${row.id}>
            <${Badge} tone=${HEALTH.find(([name]) => name === health(row))[1]}>${t("overview.pool." + health(row))}<//>
            <div class="ov-attention-text">
              <span class="ov-name">#${row.id} ${credentialName(row) !== `#${row.id}` ? credentialName(row) : ""}</span>
              <span class="muted small">${reasonText(row)}${row.state === "cooling" && row.cooldownUntil ? " · " + t("overview.pool.until", { when: fmtRelative(row.cooldownUntil) }) : ""}</span>
            </div>
          </li>`)}
        </ul>
        ${attention.length > ATTENTION_ROWS && html`<p class="muted small ov-more">${t("overview.pool.more", { count: fmtNumber(attention.length - ATTENTION_ROWS) })}</p>`}`}
  <//>`;
}

function ErrorsCard({ total, range }) {
  const requests = total ? total.requests : 0;
  const failed = failures(total);
  const types = Object.entries(total ? total.errors_by_type : {}).sort((a, b) => b[1] - a[1]);
  const share = (count) => t("overview.errors.share", { count: fmtNumber(count), share: fmtPercent(requests ? count / requests : 0, 1) });
  return html`<${Card} title=${t("overview.errors.title")} subtitle=${t("overview.errors.subtitle", { count: fmtNumber(failed), total: fmtNumber(requests) })}>
    ${failed === 0
      ? html`<p class="ov-all-good"><${Icon} name="check" size=${16} /> ${t("overview.errors.none", { range: t("overview.range.in." + range) })}</p>`
      : html`<div class="ov-bars">
          ${["4xx", "5xx"].map((name) => html`<${ShareRow} label=${t("overview.errors." + name)} value=${total.errors[name] || 0} max=${failed}
            text=${share(total.errors[name] || 0)} tone=${name === "5xx" ? "bad" : "warn"} />`)}
        </div>
        <h3 class="ov-subhead">${t("overview.errors.type")}</h3>
        <div class="ov-bars">
          ${types.map(([name, count]) => html`<${ShareRow} label=${name} mono value=${count} max=${failed} text=${share(count)} tone="muted" />`)}
        </div>`}
  <//>`;
}

// A labelled horizontal bar: `value` against `max`.
function ShareRow({ label, value, max, text, tone = "accent", mono }) {
  const width = max ? `${Math.max(2, Math.round((value / max) * 100))}%` : "0%";
  return html`<div class="ov-bar-row">
    <div class="ov-bar-head"><span class=${mono ? "mono" : ""}>${label}</span><span class="muted">${text}</span></div>
    <div class="ov-bar-track" aria-hidden="true"><span class=${"ov-bar-fill tone-" + tone} style=${{ width }}></span></div>
  </div>`;
}

function Charts({ stats, range }) {
  const series = useMemo(() => timeline(stats, range), [stats, range]);
  const bucket = t("overview.bucket." + RANGES[range].bucket);
  const withTime = RANGES[range].bucket !== "day";
  const requestSeries = useMemo(() => [
    { label: t("overview.series.requests"), values: series.requests, color: 1, fill: true },
    { label: t("overview.series.errors"), values: series.errors, color: 4, fill: true },
  ], [series, lang()]);
  const tokenSeries = useMemo(() => [
    { label: t("overview.series.input"), values: series.input, color: 2, fill: true },
    { label: t("overview.series.output"), values: series.output, color: 5, fill: true },
  ], [series, lang()]);
  const latencySeries = useMemo(() => [
    { label: t("overview.series.p50"), values: series.p50, color: 1 },
    { label: t("overview.series.p95"), values: series.p95, color: 3, dash: true },
    { label: t("overview.series.ttft"), values: series.ttft, color: 2 },
  ], [series, lang()]);
  return html`<div class="ov-charts">
    <${Card} title=${t("overview.chart.requests")} subtitle=${t("overview.chart.requests_sub", { bucket })}>
      <${Chart} label=${t("overview.chart.requests")} x=${series.x} series=${requestSeries} format=${fmtCompact} withTime=${withTime} />
    <//>
    <${Card} title=${t("overview.chart.tokens")} subtitle=${t("overview.chart.tokens_sub", { bucket })}>
      <${Chart} label=${t("overview.chart.tokens")} x=${series.x} series=${tokenSeries} format=${fmtCompact} withTime=${withTime} />
    <//>
    <${Card} title=${t("overview.chart.latency")} subtitle=${t("overview.chart.latency_sub", { bucket })}>
      <${Chart} label=${t("overview.chart.latency")} x=${series.x} series=${latencySeries} format=${fmtDuration} summarize="max" withTime=${withTime} />
    <//>
  </div>`;
}

function Percentiles({ total }) {
  const rows = [
    { id: "latency", what: t("overview.percentiles.latency"), ...total.latency_ms },
    { id: "ttft", what: t("overview.percentiles.ttft"), ...total.ttft_ms },
  ];
  return html`<${Card} title=${t("overview.percentiles")} subtitle=${t("overview.percentiles.caption")} className="ov-latency">
    <${Table} caption=${t("overview.percentiles.caption")} rows=${rows}
      columns=${[
        { key: "what", label: t("overview.percentiles.what") },
        ...["p50", "p95", "p99"].map((p) => ({ key: p, label: p, align: "right", render: (row) => html`<span class=${p === "p50" ? "ov-strong" : ""}>${fmtDuration(row[p])}</span>` })),
      ]} />
  <//>`;
}

function TopTable({ title, rows, name, label, total, range }) {
  const top = rows.slice(0, TOP_ROWS);
  const most = top.length ? top[0].requests : 0;
  return html`<${Card} title=${title}>
    <${Table} caption=${title} rows=${top} rowKey=${(row) => name(row)}
      empty=${html`<p class="muted ov-none">${t("overview.top.none", { range: t("overview.range.in." + range) })}</p>`}
      columns=${[
        { key: "name", label, render: (row) => html`<span class="ov-name" title=${name(row)}>${name(row)}</span>`, className: "ov-name-cell" },
        { key: "requests", label: t("overview.top.requests"), align: "right", className: "ov-share-cell",
          render: (row) => html`<div class="ov-share" title=${t("overview.top.share", { share: fmtPercent(total ? row.requests / total : 0, 1) })}>
            <span class="ov-share-track" aria-hidden="true"><span class="ov-share-fill" style=${{ width: `${most ? Math.max(2, (row.requests / most) * 100) : 0}%` }}></span></span>
            <span>${fmtNumber(row.requests)}</span></div>` },
        { key: "errors", label: t("overview.top.errors"), align: "right", className: "ov-wide-only", render: (row) => row.errors ? html`<span class="ov-bad">${fmtNumber(row.errors)}</span>` : "0" },
        { key: "tokens", label: t("overview.top.tokens"), align: "right", className: "ov-wide-only", render: (row) => fmtCompact(row.input_tokens + row.output_tokens) },
      ]} />
  <//>`;
}

function Balances({ pool, onRefreshed }) {
  const [busy, setBusy] = useState(false);
  const rows = useMemo(() => {
    const ratio = (row) => (row.balance && row.balance.usageLimit ? row.balance.currentUsage / row.balance.usageLimit : -1);
    return [...pool.credentials].sort((a, b) => ratio(b) - ratio(a) || a.id - b.id);
  }, [pool]);
  const known = rows.filter((row) => row.balance).length;
  async function refresh() {
    setBusy(true);
    const failures = await fetchBalances(rows.filter((row) => row.state !== "disabled").map((row) => row.id));
    await onRefreshed();
    setBusy(false);
    if (failures.length) toast(t("overview.balance.partly", { failed: failures.length, total: rows.length, message: plainError(failures[0]) }), "bad");
    else toast(t("overview.balance.refreshed"));
  }
  const [expanded, setExpanded] = useState(false);
  const shown = expanded ? rows : rows.slice(0, BALANCE_ROWS);
  const action = html`<${Button} size="sm" icon="refresh" busy=${busy} onClick=${refresh}>${t("overview.balance.refresh")}<//>`;
  return html`<${Card} title=${t("overview.balance.title")} className="ov-balances"
    subtitle=${t(shown.length === rows.length ? "overview.balance.subtitle_all" : "overview.balance.subtitle", { shown: fmtNumber(shown.length), total: fmtNumber(rows.length) })}
    actions=${html`${known ? action : null}<${Button} size="sm" variant="ghost" onClick=${() => navigate("credentials")}>${t("overview.balance.all")}<//>`}>
    ${known === 0
      ? html`<${Empty} icon="credentials" title=${t("overview.balance.none_title")} text=${t("overview.balance.none_text")} action=${action} />`
      : html`<${Table} caption=${t("overview.balance.title")} rows=${shown}
          columns=${[
            { key: "name", label: t("overview.balance.credential"), render: (row) => html`<div class="ov-cred">
              <span class="ov-name">#${row.id} ${credentialName(row) !== `#${row.id}` ? credentialName(row) : ""}</span>
              <span class="muted small">${row.balance?.subscriptionTitle || row.subscriptionTitle || ""}</span>
              ${row.balance && row.balance.nextResetAt ? html`<span class="muted small ov-phone-only">${t("overview.balance.resets_in", { when: fmtRelative(row.balance.nextResetAt) })}</span>` : null}</div>` },
            { key: "usage", label: t("overview.balance.usage"), className: "ov-usage-cell", render: (row) => row.balance
              ? html`<${Meter} value=${row.balance.currentUsage} max=${row.balance.usageLimit} label=${t("overview.balance.usage_of", { name: credentialName(row) })} format=${(n) => fmtNumber(n, 1)} />`
              : html`<span class="muted small">${t("overview.balance.unknown")}</span>` },
            { key: "reset", label: t("overview.balance.reset"), className: "nowrap ov-wide-only", render: (row) => row.balance && row.balance.nextResetAt
              ? html`<div class="ov-cred"><span>${fmtDay(row.balance.nextResetAt)}</span><span class="muted small">${fmtRelative(row.balance.nextResetAt)}</span></div>`
              : "–" },
          ]} />
        ${rows.length > BALANCE_ROWS && html`<div class="ov-expand">
          <${Button} size="sm" variant="ghost" aria-expanded=${expanded ? "true" : "false"} onClick=${() => setExpanded(!expanded)}>
            ${expanded ? t("overview.balance.fewer") : t("overview.balance.every", { total: fmtNumber(rows.length) })}<//>
        </div>`}`}
  <//>`;
}

// Balances asked of the upstream, four at a time; the errors that came back.
async function fetchBalances(ids) {
  const failures = [];
  const queue = [...ids];
  async function worker() {
    while (queue.length) {
      const id = queue.shift();
      try {
        await api.get(`/api/admin/credentials/${id}/balance`, { refresh: "true" });
      } catch (error) {
        failures.push(error);
      }
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()]);
  return failures;
}

function Feed({ feed, connected }) {
  return html`<${Card} title=${t("overview.feed.title")} className="ov-feed"
    subtitle=${t("overview.feed.subtitle", { count: fmtNumber(FEED_SIZE) })}
    actions=${html`<span class=${connected ? "ov-live" : "ov-live ov-live-off"} role="status"><span class="ov-live-dot" aria-hidden="true"></span>${t(connected ? "overview.live" : "overview.reconnecting")}</span>
      <${Button} size="sm" variant="ghost" onClick=${() => navigate("logs")}>${t("overview.feed.all")}<//>`}>
    ${feed.error && html`<${ErrorNote} error=${feed.error} />`}
    <${Table} caption=${t("overview.feed.caption")} rows=${feed.rows} rowKey=${(row) => row.key}
      empty=${html`<${Empty} icon="logs" title=${t("overview.feed.waiting")} text=${t("overview.feed.waiting_text")} />`}
      columns=${[
        { key: "at", label: t("overview.feed.time"), className: "nowrap mono-num", render: (row) => html`<time datetime=${typeof row.at === "number" ? new Date(row.at * 1000).toISOString() : row.at}>${fmtClock(row.at)}</time>` },
        { key: "status", label: t("overview.feed.status"), render: (row) => html`<${Badge} tone=${statusTone(row.status)}>${row.status}<//>` },
        { key: "model", label: t("overview.feed.model"), className: "truncate", render: (row) => row.model || "–" },
        { key: "key", label: t("overview.feed.key"), className: "truncate ov-wide-only", render: keyName },
        { key: "latency", label: t("overview.feed.latency"), align: "right", render: (row) => fmtDuration(row.latency_ms) },
        { key: "tokens", label: t("overview.feed.tokens"), align: "right", className: "nowrap ov-wide-only",
          render: (row) => t("overview.feed.tokens_value", { input: fmtCompact(row.input_tokens), output: fmtCompact(row.output_tokens) }) },
      ]} />
  <//>`;
}

function NoCredentials() {
  return html`<div class="card ov-banner">
    <${Empty} icon="credentials" title=${t("overview.no_credentials.title")} text=${t("overview.no_credentials.text")}
      action=${html`<${Button} variant="primary" icon="plus" onClick=${() => navigate("credentials")}>${t("overview.no_credentials.action")}<//>`} />
  </div>`;
}

function NoTraffic({ range }) {
  return html`<div class="card">
    <${Empty} icon="overview" title=${t("overview.no_traffic.title", { range: t("overview.range.in." + range) })} text=${t("overview.no_traffic.text")}
      action=${html`<${Button} variant="primary" icon="connect" onClick=${() => navigate("connect")}>${t("overview.no_traffic.connect")}<//>
        <${Button} icon="playground" onClick=${() => navigate("playground")}>${t("overview.no_traffic.playground")}<//>`} />
  </div>`;
}

// ---- the page

export default function Overview({ query }) {
  const asked = query && query.get("range");
  const [range, setRange] = useState(asked in RANGES ? asked : DEFAULT_RANGE);
  const { pool, stats, feed, connected, ready, reloadPool, reloadStats } = useOverview(range);
  function pick(next) {
    setRange(next);
    navigate("overview", next === DEFAULT_RANGE ? undefined : { range: next }, { replace: true });
  }
  const figures = stats.data && stats.range === range ? stats.data : null;
  const total = figures && figures.total;
  const traffic = total && total.requests > 0;
  const noCredentials = pool.data && pool.data.total === 0;
  return html`<div class="ov" data-ready=${ready ? "true" : undefined} aria-busy=${ready ? undefined : "true"}>
    <${PageHeader} title=${t("nav.overview")} subtitle=${t("overview.subtitle")}
      actions=${html`${stats.loading && figures ? html`<span class="muted small ov-updating" aria-hidden="true">${t("overview.updating")}</span>` : null}
        <${RangePicker} value=${range} onChange=${pick} />`} />
    ${noCredentials && html`<${NoCredentials} />`}
    ${pool.error && html`<${ErrorNote} error=${pool.error} retry=${reloadPool} />`}
    ${stats.error && html`<${ErrorNote} error=${stats.error} retry=${reloadStats} />`}
    ${!pool.data && !pool.error ? html`<${Loading} />` : html`
      <${Tiles} total=${total} pool=${pool.data} range=${range} />
      ${figures && total === null && html`<${Note}>${t("overview.no_store")}<//>`}
      ${!figures ? !stats.error && html`<div class="card ov-pending"><${Loading} /></div>`
        : traffic ? html`<${Charts} stats=${figures} range=${range} />`
        : !noCredentials && total !== null && html`<div class="ov-quiet">
            <${NoTraffic} range=${range} />
            ${pool.data && html`<${PoolHealth} pool=${pool.data} />`}
          </div>`}
      ${(traffic || (!noCredentials && (!figures || total === null))) && html`<div class="ov-grid">
        ${pool.data && !noCredentials && html`<${PoolHealth} pool=${pool.data} />`}
        ${traffic && html`<${ErrorsCard} total=${total} range=${range} />`}
        ${traffic && html`<${Percentiles} total=${total} />`}
      </div>`}
      ${traffic && html`<div class="ov-pair">
        <${TopTable} title=${t("overview.top.keys")} rows=${figures.per_key} name=${keyName} label=${t("overview.top.key")} total=${total.requests} range=${range} />
        <${TopTable} title=${t("overview.top.models")} rows=${figures.per_model} name=${(row) => row.model || t("overview.top.unknown_model")}
          label=${t("overview.top.model")} total=${total.requests} range=${range} />
      </div>`}
      ${pool.data && !noCredentials && html`<${Balances} pool=${pool.data} onRefreshed=${reloadPool} />`}
      <${Feed} feed=${feed} connected=${connected} />
    `}
  </div>`;
}
