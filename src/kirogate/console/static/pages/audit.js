// The audit page: every admin call that changed something (or tried to), who made it, what it
// was in words, on which target, how it ended, when and from where. Filters live in the address.
import { html, useState, useEffect, useMemo, useRef } from "../lib/preact.js";
import { api } from "../lib/api.js";
import { t, register, lang, fmtNumber, fmtDate, fmtRelative } from "../lib/i18n.js";
import { navigate, session } from "../lib/router.js";
import { Icon } from "../lib/icons.js";
import { PageHeader, Card, Badge, Empty, Button, Field, Input, Select, ErrorNote, Loading, useInterval, loadStyle } from "../lib/ui.js";

loadStyle("pages/audit.css");

// What each route did, in words (the route's short name; a few records name an event).
const ACTIONS = {
  create_key: ["Created an API key", "创建了 API 密钥"],
  update_key: ["Changed an API key", "修改了 API 密钥"],
  delete_key: ["Deleted an API key", "删除了 API 密钥"],
  regenerate_key: ["Regenerated an API key", "重新生成了 API 密钥"],
  add_credential: ["Added a credential", "添加了凭证"],
  delete_credential: ["Deleted a credential", "删除了凭证"],
  set_disabled: ["Enabled or disabled a credential", "启用或停用了凭证"],
  set_priority: ["Changed a credential's priority", "修改了凭证优先级"],
  reset_credential: ["Reset a credential's failures", "重置了凭证的失败计数"],
  refresh_credential: ["Refreshed a credential's token", "刷新了凭证的令牌"],
  import_credentials: ["Imported credentials", "导入了凭证"],
  verify_credentials: ["Verified credentials", "验证了凭证"],
  enable_all: ["Enabled every credential", "启用了全部凭证"],
  disable_all: ["Disabled every credential", "停用了全部凭证"],
  delete_failed: ["Deleted the failed credentials", "删除了失效的凭证"],
  assign_proxy: ["Set a credential's proxy", "设置了凭证的代理"],
  "credentials.export_secrets": ["Exported credentials with their secrets", "导出了含密钥的凭证"],
  create_group: ["Created a group", "创建了分组"],
  update_group: ["Changed a group", "修改了分组"],
  delete_group: ["Deleted a group", "删除了分组"],
  set_members: ["Set a group's credentials", "设置了分组的凭证"],
  add_members: ["Added credentials to a group", "向分组添加了凭证"],
  remove_member: ["Removed a credential from a group", "从分组移除了凭证"],
  block: ["Blocked an address", "封禁了地址"],
  unblock: ["Unblocked an address", "解封了地址"],
  unblock_path: ["Unblocked an address", "解封了地址"],
  create_webhook: ["Added a webhook", "添加了 Webhook"],
  update_webhook: ["Changed a webhook", "修改了 Webhook"],
  delete_webhook: ["Deleted a webhook", "删除了 Webhook"],
  test_webhook: ["Tested a webhook", "测试了 Webhook"],
  restore_backup: ["Restored a backup", "恢复了备份"],
  "backup.export": ["Downloaded a backup", "下载了备份"],
  start_device_login: ["Started a device login", "发起了设备登录"],
  start_social_login: ["Started a social login", "发起了社交账号登录"],
  complete_login: ["Completed a login", "完成了登录"],
  delete_logs: ["Deleted old request logs", "删除了旧的请求日志"],
  set_load_balancing: ["Changed the load balancing mode", "修改了负载均衡模式"],
  add_proxy: ["Added a proxy", "添加了代理"],
  edit_proxy: ["Changed a proxy", "修改了代理"],
  delete_proxy: ["Deleted a proxy", "删除了代理"],
  test_proxy: ["Tested a proxy", "测试了代理"],
  change_settings: ["Changed settings", "修改了设置"],
  reset_setting: ["Reset a setting", "重置了设置"],
  "console.sign_in": ["Signed in to the console", "登录了控制台"],
  "console.sign_out": ["Signed out of the console", "退出了控制台"],
};

// The detail fields an audit row may hold (service/audit.py DETAIL_FIELDS, plus a refusal's).
const DETAIL = {
  disabled: ["Disabled", "停用"], enabled: ["Enabled", "启用"], priority: ["Priority", "优先级"],
  weight: ["Weight", "权重"], mode: ["Mode", "模式"], name: ["Name", "名称"], label: ["Label", "标签"],
  reason: ["Reason", "原因"], expires_at: ["Expires", "过期时间"], events: ["Events", "事件"],
  format: ["Format", "格式"], state: ["State", "状态"], region: ["Region", "区域"],
  provider: ["Provider", "提供方"], secrets: ["With secrets", "含密钥"], status: ["Status", "状态"],
  group: ["Group", "分组"], strategy: ["Strategy", "策略"], before: ["Before", "早于"],
  ids: ["Ids", "ID"], all: ["All", "全部"], model: ["Model", "模型"], kind: ["Kind", "类型"],
  error: ["Error", "错误"], param: ["Field", "字段"], credentials: ["Credentials", "凭证"],
  added: ["Added", "已添加"], duplicates: ["Duplicates", "重复"], failed: ["Failed", "失败"],
};

// A refusal's error, named by its class in the record: said in words.
const ERRORS = {
  InvalidRequest: ["Invalid input", "输入无效"],
  NotFound: ["Not found", "未找到"],
  PermissionDenied: ["Not allowed", "不允许"],
  RateLimited: ["Too many requests", "请求过多"],
  RequestTooLarge: ["Too large", "内容过大"],
  BodyTooLarge: ["Too large", "内容过大"],
  StoreUnavailable: ["Database unavailable", "数据库不可用"],
  StoreLockTimeout: ["Database busy", "数据库繁忙"],
  LoginFailed: ["Login failed", "登录失败"],
  InternalError: ["Internal error", "内部错误"],
};

// The path parameter a target stands for, by the name in the route's template.
const TARGETS = {
  credential_id: ["Credential #{target}", "凭证 #{target}"],
  key_id: ["Key #{target}", "密钥 #{target}"],
  name: ["Group {target}", "分组 {target}"],
  webhook: ["Webhook {target}", "Webhook {target}"],
  proxy_id: ["Proxy {target}", "代理 {target}"],
  ip: ["Address {target}", "地址 {target}"],
  key: ["Setting {target}", "设置项 {target}"],
  login_id: ["Login {target}", "登录 {target}"],
};

function table(source, prefix) {
  const en = {};
  const zh = {};
  for (const [name, [english, chinese]] of Object.entries(source)) {
    en[`${prefix}.${name}`] = english;
    zh[`${prefix}.${name}`] = chinese;
  }
  return { en, zh };
}

const actionStrings = table(ACTIONS, "audit.a");
const detailStrings = table(DETAIL, "audit.d");
const targetStrings = table(TARGETS, "audit.t");
const errorStrings = table(ERRORS, "audit.e");

register({
  en: {
    ...actionStrings.en,
    ...detailStrings.en,
    ...targetStrings.en,
    ...errorStrings.en,
    "audit.disabled_on": "Disabled a credential",
    "audit.disabled_off": "Enabled a credential",
    "audit.subtitle": "Every change made through the admin API or this console: who, what, when and from where.",
    "audit.refresh": "Refresh",
    "audit.filters": "Filters",
    "audit.clear": "Clear filters",
    "audit.f.range": "Time",
    "audit.f.actor": "Who",
    "audit.f.action": "What",
    "audit.f.target": "Target",
    "audit.f.target_hint": "3, team-a, …",
    "audit.range.any": "Any time",
    "audit.range.1h": "Last hour",
    "audit.range.24h": "Last 24 hours",
    "audit.range.7d": "Last 7 days",
    "audit.range.30d": "Last 30 days",
    "audit.anyone": "Anyone",
    "audit.anything": "Any action",
    "audit.col.when": "When",
    "audit.col.who": "Who",
    "audit.col.what": "What",
    "audit.col.target": "Target",
    "audit.col.result": "Result",
    "audit.col.address": "Address",
    "audit.table": "Audit trail",
    "audit.actor.admin_key": "Admin key",
    "audit.actor.console": "Console {session}",
    "audit.actor.system": "kirogate",
    "audit.actor.you": "you",
    "audit.result.done": "Done",
    "audit.result.refused": "Refused",
    "audit.result.failed": "Failed",
    "audit.yes": "yes",
    "audit.no": "no",
    "audit.more": "Show older entries",
    "audit.end": "That is the whole trail for these filters.",
    "audit.shown": "{count} entries shown",
    "audit.empty.title": "No changes recorded yet",
    "audit.empty.text": "Each change made with the admin key or in this console (adding a credential, creating a key, changing a setting, signing in) is recorded here.",
    "audit.empty.filtered": "No entry matches these filters",
    "audit.empty.filtered_text": "Widen the time range or clear a filter.",
  },
  "zh-CN": {
    ...actionStrings.zh,
    ...detailStrings.zh,
    ...targetStrings.zh,
    ...errorStrings.zh,
    "audit.disabled_on": "停用了凭证",
    "audit.disabled_off": "启用了凭证",
    "audit.subtitle": "通过管理 API 或本控制台所做的每一项变更：谁、做了什么、何时、从哪里。",
    "audit.refresh": "刷新",
    "audit.filters": "筛选",
    "audit.clear": "清除筛选",
    "audit.f.range": "时间",
    "audit.f.actor": "操作者",
    "audit.f.action": "操作",
    "audit.f.target": "对象",
    "audit.f.target_hint": "3、team-a……",
    "audit.range.any": "全部时间",
    "audit.range.1h": "最近 1 小时",
    "audit.range.24h": "最近 24 小时",
    "audit.range.7d": "最近 7 天",
    "audit.range.30d": "最近 30 天",
    "audit.anyone": "所有人",
    "audit.anything": "全部操作",
    "audit.col.when": "时间",
    "audit.col.who": "操作者",
    "audit.col.what": "操作",
    "audit.col.target": "对象",
    "audit.col.result": "结果",
    "audit.col.address": "地址",
    "audit.table": "审计记录",
    "audit.actor.admin_key": "管理密钥",
    "audit.actor.console": "控制台 {session}",
    "audit.actor.system": "kirogate",
    "audit.actor.you": "你",
    "audit.result.done": "完成",
    "audit.result.refused": "被拒绝",
    "audit.result.failed": "失败",
    "audit.yes": "是",
    "audit.no": "否",
    "audit.more": "显示更早的记录",
    "audit.end": "符合筛选条件的记录已全部显示。",
    "audit.shown": "已显示 {count} 条记录",
    "audit.empty.title": "还没有变更记录",
    "audit.empty.text": "使用管理密钥或在本控制台所做的每一项变更（添加凭证、创建密钥、修改设置、登录）都会记录在这里。",
    "audit.empty.filtered": "没有符合筛选条件的记录",
    "audit.empty.filtered_text": "请扩大时间范围或清除某个筛选条件。",
  },
});

const RANGES = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const FILTER_NAMES = ["range", "actor", "action", "target"];
const PAGE_SIZE = 50;

function readFilters(query) {
  const filters = {};
  for (const name of FILTER_NAMES) filters[name] = query.get(name) || "";
  return filters;
}

function apiQuery(filters) {
  return {
    actor: filters.actor,
    action: filters.action,
    target: filters.target,
    since: RANGES[filters.range] ? new Date(Date.now() - RANGES[filters.range] * 1000).toISOString() : undefined,
  };
}

// ---- words

function actionWords(row) {
  // The switch's direction is in the detail: "Disabled a credential", not "enabled or disabled".
  if (row.name === "set_disabled" && row.detail && typeof row.detail.disabled === "boolean") {
    return t(row.detail.disabled ? "audit.disabled_on" : "audit.disabled_off");
  }
  return row.name in ACTIONS ? t(`audit.a.${row.name}`) : null;
}

function targetWords(row) {
  if (row.target === null || row.target === undefined || row.target === "") return null;
  const params = [...(row.action || "").matchAll(/\{(\w+)(?::\w+)?\}/g)].map((match) => match[1]);
  if (params.length === 1 && params[0] in TARGETS) return t(`audit.t.${params[0]}`, { target: row.target });
  return row.target;
}

function actorInfo(actor) {
  const mine = session.value && session.value.actor === actor;
  if (actor === "admin-key") return { text: t("audit.actor.admin_key"), icon: "keys", mine };
  if (actor && actor.startsWith("console:")) return { text: t("audit.actor.console", { session: actor.slice(8, 16) }), icon: "overview", mine };
  if (actor === "system") return { text: t("audit.actor.system"), icon: "settings", mine: false };
  return { text: actor || "–", icon: "info", mine };
}

function resultTone(status) {
  if (status < 300) return "ok";
  return status < 500 ? "warn" : "bad";
}

function resultWords(status) {
  if (status < 300) return t("audit.result.done");
  return t(status < 500 ? "audit.result.refused" : "audit.result.failed");
}

function detailValue(value) {
  if (typeof value === "boolean") return t(value ? "audit.yes" : "audit.no");
  if (Array.isArray(value)) return value.join(", ");
  if (value && typeof value === "object") return Object.entries(value).map(([key, item]) => `${key}: ${detailValue(item)}`).join(", ");
  if (typeof value === "number") return fmtNumber(value, 2);
  return String(value);
}

// ---- the page

export default function AuditPage({ query }) {
  const filters = useMemo(() => readFilters(query), [query.toString()]);
  const filterKey = JSON.stringify(filters);
  const [state, setState] = useState({ items: [], cursor: null, loading: true, error: null, more: false });
  const [, setTick] = useState(0);
  const generation = useRef(0);
  useInterval(() => setTick((tick) => tick + 1), 30000);

  async function load() {
    const mine = ++generation.current;
    setState((previous) => ({ ...previous, loading: true, error: null }));
    try {
      const page = await api.get("/api/admin/audit", { ...apiQuery(filters), limit: PAGE_SIZE });
      if (mine === generation.current) setState({ items: page.items, cursor: page.next_cursor, loading: false, error: null, more: false });
    } catch (error) {
      if (mine === generation.current) setState((previous) => ({ ...previous, items: [], loading: false, error }));
    }
  }

  async function loadMore() {
    const mine = generation.current;
    setState((previous) => ({ ...previous, more: true }));
    try {
      const page = await api.get("/api/admin/audit", { ...apiQuery(filters), limit: PAGE_SIZE, cursor: state.cursor });
      if (mine !== generation.current) return;
      setState((previous) => ({ ...previous, items: [...previous.items, ...page.items], cursor: page.next_cursor, more: false }));
    } catch (error) {
      if (mine === generation.current) setState((previous) => ({ ...previous, more: false, error }));
    }
  }

  useEffect(() => {
    load();
  }, [filterKey]);

  const setFilters = (changes) => navigate("audit", { ...filters, ...changes }, { replace: true });
  const filtered = FILTER_NAMES.some((name) => filters[name]);

  return html`<div class="audit-page">
    <${PageHeader} title=${t("nav.audit")} subtitle=${t("audit.subtitle")}
      actions=${html`<${Button} icon="refresh" onClick=${load} busy=${state.loading && state.items.length > 0}>${t("audit.refresh")}<//>`} />
    <${Filters} filters=${filters} items=${state.items} onChange=${setFilters} />
    <${Card} className="audit-card">
      ${state.error && html`<${ErrorNote} error=${state.error} retry=${load} />`}
      ${state.loading && state.items.length === 0
        ? html`<${Loading} />`
        : state.items.length === 0
          ? !state.error && html`<${EmptyAudit} filtered=${filtered} />`
          : html`<${AuditTable} items=${state.items} />
            <div class="audit-foot">
              <span class="muted small">${t("audit.shown", { count: fmtNumber(state.items.length) })}</span>
              ${state.cursor
                ? html`<${Button} size="sm" busy=${state.more} onClick=${loadMore}>${t("audit.more")}<//>`
                : html`<span class="muted small">${t("audit.end")}</span>`}
            </div>`}
    <//>
  </div>`;
}

function EmptyAudit({ filtered }) {
  if (filtered) {
    return html`<${Empty} icon="filter" title=${t("audit.empty.filtered")} text=${t("audit.empty.filtered_text")}
      action=${html`<${Button} onClick=${() => navigate("audit", {}, { replace: true })}>${t("audit.clear")}<//>`} />`;
  }
  return html`<${Empty} icon="audit" title=${t("audit.empty.title")} text=${t("audit.empty.text")} />`;
}

function Filters({ filters, items, onChange }) {
  const [target, setTarget] = useState(filters.target);
  useEffect(() => setTarget(filters.target), [filters.target]);
  const commitTarget = () => target.trim() !== filters.target && onChange({ target: target.trim() });

  // Who: the admin key, this session, and the sessions seen on the page.
  const actors = new Set(["admin-key"]);
  if (session.value && session.value.actor) actors.add(session.value.actor);
  for (const item of items) actors.add(item.actor);
  if (filters.actor) actors.add(filters.actor);
  const actorOptions = [["", t("audit.anyone")], ...[...actors].map((actor) => {
    const info = actorInfo(actor);
    return [actor, info.mine ? `${info.text} (${t("audit.actor.you")})` : info.text];
  })];

  const actionOptions = [["", t("audit.anything")], ...Object.keys(ACTIONS)
    .filter((name) => name !== "unblock_path")
    .map((name) => [name, t(`audit.a.${name}`)])
    .sort((a, b) => a[1].localeCompare(b[1], lang()))];
  if (filters.action && !(filters.action in ACTIONS)) actionOptions.push([filters.action, filters.action]);

  const rangeOptions = [["", t("audit.range.any")], ...Object.keys(RANGES).map((range) => [range, t(`audit.range.${range}`)])];
  const filtered = FILTER_NAMES.some((name) => filters[name]);

  return html`<section class="card audit-filters" aria-label=${t("audit.filters")}>
    <div class="audit-filter-grid">
      <${Field} label=${t("audit.f.range")}>${(ids) => html`<${Select} ...${ids} options=${rangeOptions} value=${filters.range}
        onChange=${(range) => onChange({ range })} />`}<//>
      <${Field} label=${t("audit.f.actor")}>${(ids) => html`<${Select} ...${ids} options=${actorOptions} value=${filters.actor}
        onChange=${(actor) => onChange({ actor })} />`}<//>
      <${Field} label=${t("audit.f.action")}>${(ids) => html`<${Select} ...${ids} options=${actionOptions} value=${filters.action}
        onChange=${(action) => onChange({ action })} />`}<//>
      <${Field} label=${t("audit.f.target")}>${(ids) => html`<${Input} ...${ids} type="search" value=${target}
        placeholder=${t("audit.f.target_hint")} autocomplete="off" spellcheck="false"
        onInput=${(event) => setTarget(event.target.value)} onBlur=${commitTarget}
        onKeyDown=${(event) => event.key === "Enter" && commitTarget()} />`}<//>
      ${filtered && html`<div class="audit-filter-clear">
        <${Button} variant="ghost" icon="close" onClick=${() => navigate("audit", {}, { replace: true })}>${t("audit.clear")}<//>
      </div>`}
    </div>
  </section>`;
}

function AuditTable({ items }) {
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${t("audit.table")}>
    <table class="table audit-table">
      <caption class="sr-only">${t("audit.table")}</caption>
      <thead><tr>
        <th scope="col">${t("audit.col.when")}</th>
        <th scope="col">${t("audit.col.who")}</th>
        <th scope="col">${t("audit.col.what")}</th>
        <th scope="col" class="audit-wide">${t("audit.col.target")}</th>
        <th scope="col">${t("audit.col.result")}</th>
        <th scope="col" class="audit-wide">${t("audit.col.address")}</th>
      </tr></thead>
      <tbody>${items.map((item) => html`<${AuditRow} key=${item.id ?? item.at + item.action} item=${item} />`)}</tbody>
    </table>
  </div>`;
}

function AuditRow({ item }) {
  const actor = actorInfo(item.actor);
  const words = actionWords(item);
  const target = targetWords(item);
  const detail = Object.entries(item.detail || {});
  return html`<tr data-audit-id=${item.id} data-action=${item.name}>
    <td class="nowrap"><time datetime=${item.at} title=${fmtDate(item.at, true)}>${fmtRelative(item.at)}</time></td>
    <td class="audit-who">
      <span class="audit-actor" title=${item.actor}><${Icon} name=${actor.icon} size=${15} /><span>${actor.text}</span></span>
      ${actor.mine && html` <${Badge} tone="info">${t("audit.actor.you")}<//>`}
    </td>
    <td class="audit-what">
      ${words ? html`<div class="audit-words" title=${item.action}>${words}</div>` : html`<div class="mono small">${item.action}</div>`}
      ${target && html`<div class="audit-target-narrow muted small">${target}</div>`}
      ${detail.length > 0 && html`<dl class="audit-detail">
        ${detail.map(([key, value]) => html`<div class=${key === "error" ? "audit-detail-error" : ""}>
          <dt>${key in DETAIL ? t(`audit.d.${key}`) : key}</dt>
          <dd>${key === "error" && value in ERRORS ? t(`audit.e.${value}`) : detailValue(value)}</dd>
        </div>`)}
      </dl>`}
    </td>
    <td class="audit-wide">${target || html`<span class="muted">–</span>`}</td>
    <td class="nowrap"><${Badge} tone=${resultTone(item.status)} title=${String(item.status)}>${resultWords(item.status)}<//>
      ${item.status >= 300 && html` <span class="muted small">${item.status}</span>`}</td>
    <td class="audit-wide mono small nowrap">${item.address || html`<span class="muted">–</span>`}</td>
  </tr>`;
}
