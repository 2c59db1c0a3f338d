// The credentials page: the pool's accounts with their state, balance and last error; each
// one enabled, disabled, re-prioritised, reset, refreshed, verified or deleted; new ones added
// by a login or an import (credentials-add.js); batch verify with live progress; export.
import { html, useState, useEffect, useMemo } from "../lib/preact.js";
import { api } from "../lib/api.js";
import { t, register, fmtNumber, fmtDate, fmtRelative } from "../lib/i18n.js";
import {
  PageHeader, Card, Badge, Meter, Table, Empty, Modal, Field, Input, Select, Switch, Button,
  IconButton, Pagination, ErrorNote, Note, Loading, useAsync, useInterval, loadStyle,
  confirmAction, toast, attempt,
} from "../lib/ui.js";
import { AddDialog } from "./credentials-add.js";
import { VerifyDialog, ExportDialog } from "./credentials-batch.js";

loadStyle("pages/credentials.css");

register({
  en: {
    "credentials.subtitle": "The Kiro accounts the gateway serves requests with.",
    "credentials.summary": "{total} in the pool · {available} available · {mode}",
    "credentials.summary_filtered": "{total} matching · {available} available · {mode}",
    "credentials.mode.priority": "priority mode",
    "credentials.mode.balanced": "balanced mode",
    "credentials.mode.round_robin": "round-robin mode",
    "credentials.mode.random": "random mode",
    "credentials.mode.weighted": "weighted mode",
    "credentials.add": "Add credentials",
    "credentials.verify_all": "Verify all",
    "credentials.export": "Export",
    "credentials.delete_failed": "Delete failed",
    "credentials.delete_failed.title": "Delete the failed credentials?",
    "credentials.delete_failed.text": "Credentials disabled because their token was rejected, they failed too often or their configuration is invalid are deleted. Credentials you turned off yourself are kept.",
    "credentials.delete_failed.confirm": "Delete failed credentials",
    "credentials.delete_failed.done": "{count} credential(s) deleted",
    "credentials.search": "Search",
    "credentials.search_placeholder": "Email, #id or label",
    "credentials.state": "State",
    "credentials.state.all": "All states",
    "credentials.state.ready": "Ready",
    "credentials.state.busy": "Busy",
    "credentials.state.cooling": "Cooling down",
    "credentials.state.disabled": "Disabled",
    "credentials.group": "Group",
    "credentials.group.all": "All groups",
    "credentials.table": "Credentials",
    "credentials.col.select": "Select",
    "credentials.col.account": "Account",
    "credentials.col.state": "State",
    "credentials.col.method": "Method",
    "credentials.col.region": "Region",
    "credentials.col.method_region": "Method · region",
    "credentials.col.priority": "Priority",
    "credentials.col.balance": "Balance",
    "credentials.col.expiry": "Token expires",
    "credentials.col.error": "Last error",
    "credentials.col.actions": "Actions",
    "credentials.select_all": "Select every credential on this page",
    "credentials.select_one": "Select {name}",
    "credentials.enabled_for": "{name} enabled",
    "credentials.manage": "Manage",
    "credentials.manage_for": "Manage {name}",
    "credentials.current": "current",
    "credentials.region.default": "default",
    "credentials.none": "none",
    "credentials.unknown": "unknown",
    "credentials.method.social": "Google / GitHub",
    "credentials.method.idc": "Builder ID / IdC",
    "credentials.method.api_key": "API key",
    "credentials.method.external_idp": "External IdP",
    "credentials.reason.manual": "turned off by an operator",
    "credentials.reason.too_many_failures": "too many failures in a row",
    "credentials.reason.too_many_refresh_failures": "the token refresh kept failing",
    "credentials.reason.invalid_refresh_token": "the refresh token was rejected",
    "credentials.reason.invalid_config": "its configuration is invalid",
    "credentials.cooldown.throttled": "rate-limited",
    "credentials.cooldown.quota_exceeded": "out of quota",
    "credentials.cooldown.suspended": "account suspended for now",
    "credentials.until": "until {time}",
    "credentials.balance.left": "{remaining} left",
    "credentials.balance.none": "not fetched yet",
    "credentials.selected": "{count} selected",
    "credentials.verify_selected": "Verify",
    "credentials.enable_selected": "Enable",
    "credentials.disable_selected": "Disable",
    "credentials.clear_selection": "Clear selection",
    "credentials.bulk_done": "{count} credential(s) changed",
    "credentials.empty.title": "No credentials yet",
    "credentials.empty.text": "Log in with AWS Builder ID, IAM Identity Center, Google or GitHub, or import the tokens you already have.",
    "credentials.empty.login": "Log in with Builder ID",
    "credentials.empty.import": "Import credentials",
    "credentials.nomatch.title": "No credential matches these filters",
    "credentials.nomatch.clear": "Clear filters",
    "credentials.enabled": "{name} enabled",
    "credentials.disabled": "{name} disabled",
    "credentials.detail.title": "Credential {name}",
    "credentials.detail.facts": "Details",
    "credentials.detail.id": "ID",
    "credentials.detail.email": "Email",
    "credentials.detail.plan": "Plan",
    "credentials.detail.last_used": "Last used",
    "credentials.detail.successes": "Requests served",
    "credentials.detail.errors": "Failures",
    "credentials.detail.errors_value": "{total} in all, {row} in a row",
    "credentials.detail.why": "Why",
    "credentials.detail.proxy": "Proxy",
    "credentials.detail.source": "Added from",
    "credentials.detail.token": "Refresh token",
    "credentials.detail.resets": "Quota resets",
    "credentials.detail.last_error_at": "Last error at",
    "credentials.detail.priority_hint": "Lower numbers are tried first.",
    "credentials.detail.save_priority": "Save priority",
    "credentials.detail.priority_saved": "Priority of {name} set to {priority}",
    "credentials.detail.priority_bad": "The priority is a whole number of 0 or more.",
    "credentials.detail.actions": "Actions",
    "credentials.action.enable": "Enable",
    "credentials.action.disable": "Disable",
    "credentials.action.reset": "Reset failures",
    "credentials.action.reset_done": "Failures of {name} cleared; it is enabled",
    "credentials.action.refresh": "Refresh token",
    "credentials.action.refresh_done": "Token of {name} refreshed; it expires {time}",
    "credentials.action.balance": "Check balance",
    "credentials.action.balance_done": "{name}: {remaining} of {limit} left",
    "credentials.action.verify": "Verify",
    "credentials.action.delete": "Delete",
    "credentials.delete.title": "Delete {name}?",
    "credentials.delete.text": "The credential leaves the pool and its tokens are deleted. To use this account again you will have to log in or import it again.",
    "credentials.delete.text_enabled": "The credential is disabled, then it leaves the pool and its tokens are deleted. To use this account again you will have to log in or import it again.",
    "credentials.delete.confirm": "Delete credential",
    "credentials.delete.done": "{name} deleted",
    "credentials.gone": "This credential is no longer in the pool.",
  },
  "zh-CN": {
    "credentials.subtitle": "网关用来处理请求的 Kiro 账号。",
    "credentials.summary": "池中共 {total} 个 · {available} 个可用 · {mode}",
    "credentials.summary_filtered": "匹配 {total} 个 · {available} 个可用 · {mode}",
    "credentials.mode.priority": "优先级模式",
    "credentials.mode.balanced": "均衡模式",
    "credentials.mode.round_robin": "轮询模式",
    "credentials.mode.random": "随机模式",
    "credentials.mode.weighted": "加权模式",
    "credentials.add": "添加凭证",
    "credentials.verify_all": "全部验证",
    "credentials.export": "导出",
    "credentials.delete_failed": "删除失效凭证",
    "credentials.delete_failed.title": "删除失效的凭证？",
    "credentials.delete_failed.text": "将删除因令牌被拒绝、失败次数过多或配置无效而被停用的凭证。你手动停用的凭证会保留。",
    "credentials.delete_failed.confirm": "删除失效凭证",
    "credentials.delete_failed.done": "已删除 {count} 个凭证",
    "credentials.search": "搜索",
    "credentials.search_placeholder": "邮箱、#ID 或标签",
    "credentials.state": "状态",
    "credentials.state.all": "全部状态",
    "credentials.state.ready": "就绪",
    "credentials.state.busy": "繁忙",
    "credentials.state.cooling": "冷却中",
    "credentials.state.disabled": "已停用",
    "credentials.group": "分组",
    "credentials.group.all": "全部分组",
    "credentials.table": "凭证",
    "credentials.col.select": "选择",
    "credentials.col.account": "账号",
    "credentials.col.state": "状态",
    "credentials.col.method": "登录方式",
    "credentials.col.region": "区域",
    "credentials.col.method_region": "登录方式 · 区域",
    "credentials.col.priority": "优先级",
    "credentials.col.balance": "余额",
    "credentials.col.expiry": "令牌到期",
    "credentials.col.error": "最近错误",
    "credentials.col.actions": "操作",
    "credentials.select_all": "选择本页全部凭证",
    "credentials.select_one": "选择 {name}",
    "credentials.enabled_for": "启用 {name}",
    "credentials.manage": "管理",
    "credentials.manage_for": "管理 {name}",
    "credentials.current": "当前",
    "credentials.region.default": "默认",
    "credentials.none": "无",
    "credentials.unknown": "未知",
    "credentials.method.social": "Google / GitHub",
    "credentials.method.idc": "Builder ID / IdC",
    "credentials.method.api_key": "API 密钥",
    "credentials.method.external_idp": "外部身份提供方",
    "credentials.reason.manual": "由管理员停用",
    "credentials.reason.too_many_failures": "连续失败次数过多",
    "credentials.reason.too_many_refresh_failures": "令牌刷新屡次失败",
    "credentials.reason.invalid_refresh_token": "刷新令牌已被拒绝",
    "credentials.reason.invalid_config": "配置无效",
    "credentials.cooldown.throttled": "被限流",
    "credentials.cooldown.quota_exceeded": "额度已用完",
    "credentials.cooldown.suspended": "账号暂时被停用",
    "credentials.until": "直到 {time}",
    "credentials.balance.left": "剩余 {remaining}",
    "credentials.balance.none": "尚未获取",
    "credentials.selected": "已选 {count} 个",
    "credentials.verify_selected": "验证",
    "credentials.enable_selected": "启用",
    "credentials.disable_selected": "停用",
    "credentials.clear_selection": "取消选择",
    "credentials.bulk_done": "已更改 {count} 个凭证",
    "credentials.empty.title": "还没有凭证",
    "credentials.empty.text": "使用 AWS Builder ID、IAM Identity Center、Google 或 GitHub 登录，或导入已有的令牌。",
    "credentials.empty.login": "使用 Builder ID 登录",
    "credentials.empty.import": "导入凭证",
    "credentials.nomatch.title": "没有符合筛选条件的凭证",
    "credentials.nomatch.clear": "清除筛选",
    "credentials.enabled": "已启用 {name}",
    "credentials.disabled": "已停用 {name}",
    "credentials.detail.title": "凭证 {name}",
    "credentials.detail.facts": "详情",
    "credentials.detail.id": "ID",
    "credentials.detail.email": "邮箱",
    "credentials.detail.plan": "订阅",
    "credentials.detail.last_used": "最近使用",
    "credentials.detail.successes": "已处理请求",
    "credentials.detail.errors": "失败",
    "credentials.detail.errors_value": "累计 {total} 次，连续 {row} 次",
    "credentials.detail.why": "原因",
    "credentials.detail.proxy": "代理",
    "credentials.detail.source": "来源",
    "credentials.detail.token": "刷新令牌",
    "credentials.detail.resets": "额度重置",
    "credentials.detail.last_error_at": "最近错误时间",
    "credentials.detail.priority_hint": "数字越小越先使用。",
    "credentials.detail.save_priority": "保存优先级",
    "credentials.detail.priority_saved": "{name} 的优先级已设为 {priority}",
    "credentials.detail.priority_bad": "优先级须为 0 或更大的整数。",
    "credentials.detail.actions": "操作",
    "credentials.action.enable": "启用",
    "credentials.action.disable": "停用",
    "credentials.action.reset": "重置失败计数",
    "credentials.action.reset_done": "已清除 {name} 的失败计数并启用",
    "credentials.action.refresh": "刷新令牌",
    "credentials.action.refresh_done": "{name} 的令牌已刷新，将于{time}到期",
    "credentials.action.balance": "查询余额",
    "credentials.action.balance_done": "{name}：剩余 {remaining} / {limit}",
    "credentials.action.verify": "验证",
    "credentials.action.delete": "删除",
    "credentials.delete.title": "删除 {name}？",
    "credentials.delete.text": "该凭证将移出凭证池，其令牌会被删除。若要再次使用此账号，需要重新登录或导入。",
    "credentials.delete.text_enabled": "该凭证会先被停用，然后移出凭证池，其令牌会被删除。若要再次使用此账号，需要重新登录或导入。",
    "credentials.delete.confirm": "删除凭证",
    "credentials.delete.done": "已删除 {name}",
    "credentials.gone": "该凭证已不在凭证池中。",
  },
});

const PAGE_SIZE = 25;
const BASE = "/api/admin/credentials";
const STATE_TONE = { ready: "ok", busy: "info", cooling: "warn", disabled: "bad" };

// How a credential is named on screen: its email, else its label, else its id.
export const nameOf = (row) => row.email || (row.label && row.label !== `#${row.id}` ? row.label : `#${row.id}`);
const methodOf = (row) => t("credentials.method." + row.authMethod) || row.authMethod;
const regionOf = (row) => row.region || row.apiRegion || row.authRegion || t("credentials.region.default");
const known = (prefix, value) => (value ? t(`credentials.${prefix}.${value}`) : "");

// Why a credential is not ready, in words (disabled reason or cooldown).
function whyOf(row) {
  if (row.state === "disabled") return known("reason", row.disabledReason);
  if (row.state === "cooling") {
    const until = row.cooldownUntil ? ` · ${t("credentials.until", { time: fmtRelative(row.cooldownUntil) })}` : "";
    return known("cooldown", row.cooldownReason) + until;
  }
  return "";
}

// True while the window is a phone's width: the table turns into cards.
function useNarrow() {
  const query = useMemo(() => window.matchMedia("(max-width: 760px)"), []);
  const [narrow, setNarrow] = useState(query.matches);
  useEffect(() => {
    const change = () => setNarrow(query.matches);
    query.addEventListener("change", change);
    return () => query.removeEventListener("change", change);
  }, [query]);
  return narrow;
}

// The value typed, given to the loader only once typing pauses.
function useDebounced(value, ms) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return settled;
}

function StateBadge({ row }) {
  const why = whyOf(row);
  const tone = row.state === "disabled" && row.disabledReason === "manual" ? "muted" : STATE_TONE[row.state] || "muted";
  return html`<div class="cred-state">
    <${Badge} tone=${tone}>${t("credentials.state." + row.state)}<//>
    ${why && html`<span class="muted small">${why}</span>`}
  </div>`;
}

function Balance({ row }) {
  const balance = row.balance;
  if (!balance || balance.usageLimit === undefined || balance.usageLimit === null) {
    return html`<span class="muted small">${t("credentials.balance.none")}</span>`;
  }
  return html`<div class="cred-balance">
    <${Meter} value=${balance.currentUsage} max=${balance.usageLimit} label=${`${t("credentials.col.balance")}: ${nameOf(row)}`}
      format=${(value) => fmtNumber(value, 1)} />
  </div>`;
}

function Account({ row }) {
  const name = nameOf(row);
  // The id is said once: under the name, unless the id is the name.
  const parts = [name !== `#${row.id}` && `#${row.id}`, row.subscriptionTitle].filter(Boolean);
  return html`<div class="cred-account">
    <span class="cred-name">${name}</span>
    ${(parts.length > 0 || row.isCurrent) && html`<span class="muted small cred-sub">
      ${parts.join(" · ")}
      ${row.isCurrent && html`<${Badge} tone="info">${t("credentials.current")}<//>`}
    </span>`}
  </div>`;
}

function Expiry({ row }) {
  if (!row.expiresAt) return html`<span class="muted">–</span>`;
  const past = new Date(row.expiresAt).getTime() < Date.now();
  return html`<span class=${past ? "muted" : ""} title=${fmtDate(row.expiresAt, true)}>${fmtRelative(row.expiresAt)}</span>`;
}

function LastError({ row }) {
  if (!row.lastError) return html`<span class="muted">–</span>`;
  return html`<div class="cred-error">
    <span class="cred-error-text" title=${row.lastError}>${row.lastError}</span>
    ${row.lastErrorAt && html`<span class="muted small">${fmtRelative(row.lastErrorAt)}</span>`}
  </div>`;
}

function EnableSwitch({ row, onToggle }) {
  return html`<${Switch} checked=${!row.disabled} label=${t("credentials.enabled_for", { name: nameOf(row) })}
    onChange=${(on) => onToggle(row, on)} />`;
}

function Checkbox({ checked, onChange, label }) {
  return html`<input type="checkbox" class="cred-check" checked=${checked} aria-label=${label}
    onChange=${(event) => onChange(event.target.checked)} />`;
}

function CredentialTable({ rows, selected, onSelect, onSelectAll, onToggle, onManage }) {
  const all = rows.length > 0 && rows.every((row) => selected.has(row.id));
  const columns = [
    {
      key: "select",
      label: html`<${Checkbox} checked=${all} onChange=${onSelectAll} label=${t("credentials.select_all")} />`,
      className: "cred-col-check",
      render: (row) => html`<${Checkbox} checked=${selected.has(row.id)} onChange=${(on) => onSelect(row.id, on)}
        label=${t("credentials.select_one", { name: nameOf(row) })} />`,
    },
    { key: "account", label: t("credentials.col.account"), render: (row) => html`<${Account} row=${row} />` },
    { key: "state", label: t("credentials.col.state"), render: (row) => html`<${StateBadge} row=${row} />` },
    {
      key: "method",
      label: t("credentials.col.method_region"),
      className: "nowrap",
      render: (row) => html`<div class="cred-method"><span>${methodOf(row)}</span><span class="muted small">${regionOf(row)}</span></div>`,
    },
    { key: "priority", label: t("credentials.col.priority"), align: "right", render: (row) => fmtNumber(row.priority) },
    { key: "balance", label: t("credentials.col.balance"), render: (row) => html`<${Balance} row=${row} />` },
    { key: "expiry", label: t("credentials.col.expiry"), className: "nowrap", render: (row) => html`<${Expiry} row=${row} />` },
    { key: "error", label: t("credentials.col.error"), render: (row) => html`<${LastError} row=${row} />` },
    {
      key: "actions",
      label: html`<span class="sr-only">${t("credentials.col.actions")}</span>`,
      align: "right",
      render: (row) => html`<div class="cred-actions">
        <${EnableSwitch} row=${row} onToggle=${onToggle} />
        <${Button} size="sm" onClick=${() => onManage(row.id)} aria-label=${t("credentials.manage_for", { name: nameOf(row) })}>${t("credentials.manage")}<//>
      </div>`,
    },
  ];
  return html`<${Table} columns=${columns} rows=${rows} caption=${t("credentials.table")} />`;
}

// At a phone's width: one card per credential, the same facts stacked.
function CredentialCards({ rows, selected, onSelect, onToggle, onManage }) {
  return html`<ul class="cred-cards" aria-label=${t("credentials.table")}>
    ${rows.map((row) => html`<li key=${row.id} class="cred-card">
      <div class="cred-card-head">
        <${Checkbox} checked=${selected.has(row.id)} onChange=${(on) => onSelect(row.id, on)} label=${t("credentials.select_one", { name: nameOf(row) })} />
        <${Account} row=${row} />
        <${EnableSwitch} row=${row} onToggle=${onToggle} />
      </div>
      <${StateBadge} row=${row} />
      <dl class="cred-card-facts">
        <div><dt>${t("credentials.col.method")}</dt><dd>${methodOf(row)}</dd></div>
        <div><dt>${t("credentials.col.region")}</dt><dd>${regionOf(row)}</dd></div>
        <div><dt>${t("credentials.col.priority")}</dt><dd>${fmtNumber(row.priority)}</dd></div>
        <div><dt>${t("credentials.col.expiry")}</dt><dd><${Expiry} row=${row} /></dd></div>
      </dl>
      <div class="cred-card-wide"><span class="cred-fact-label">${t("credentials.col.balance")}</span><${Balance} row=${row} /></div>
      ${row.lastError && html`<div class="cred-card-wide"><span class="cred-fact-label">${t("credentials.col.error")}</span><${LastError} row=${row} /></div>`}
      <${Button} size="sm" onClick=${() => onManage(row.id)} aria-label=${t("credentials.manage_for", { name: nameOf(row) })}>${t("credentials.manage")}<//>
    </li>`)}
  </ul>`;
}

function Fact({ label, children }) {
  return html`<div class="cred-fact"><dt>${label}</dt><dd>${children}</dd></div>`;
}

// Everything about one credential, and every action on it.
function CredentialDialog({ row, onClose, onChanged, onVerify }) {
  const [priority, setPriority] = useState(String(row.priority));
  const [priorityError, setPriorityError] = useState(null);
  const [busy, setBusy] = useState("");
  const name = nameOf(row);
  useEffect(() => setPriority(String(row.priority)), [row.id, row.priority]);

  async function act(key, action, success) {
    setBusy(key);
    const ok = await attempt(action, typeof success === "string" ? success : undefined);
    setBusy("");
    if (ok) onChanged();
    return ok;
  }
  async function savePriority(event) {
    event.preventDefault();
    const value = Number(priority);
    if (!Number.isInteger(value) || value < 0) return setPriorityError(t("credentials.detail.priority_bad"));
    setPriorityError(null);
    return act("priority", () => api.post(`${BASE}/${row.id}/priority`, { priority: value }),
      t("credentials.detail.priority_saved", { name, priority: fmtNumber(value) }));
  }
  const refresh = () => act("refresh", async () => {
    const answer = await api.post(`${BASE}/${row.id}/refresh`);
    toast(t("credentials.action.refresh_done", { name, time: fmtRelative(answer.expiresAt) }));
  });
  const balance = () => act("balance", async () => {
    const answer = await api.get(`${BASE}/${row.id}/balance`);
    toast(t("credentials.action.balance_done", { name, remaining: fmtNumber(answer.remaining, 1), limit: fmtNumber(answer.usageLimit, 1) }));
  });
  async function remove() {
    const sure = await confirmAction({
      title: t("credentials.delete.title", { name }),
      text: t(row.disabled ? "credentials.delete.text" : "credentials.delete.text_enabled"),
      confirm: t("credentials.delete.confirm"),
    });
    if (!sure) return;
    const ok = await act("delete", async () => {
      // The API deletes only a disabled credential: the confirmation covered both steps.
      if (!row.disabled) await api.post(`${BASE}/${row.id}/disabled`, { disabled: true });
      await api.del(`${BASE}/${row.id}`);
    }, t("credentials.delete.done", { name }));
    if (ok) onClose();
  }

  const why = whyOf(row) || row.reasonDetail;
  return html`<${Modal} open=${true} wide title=${t("credentials.detail.title", { name })} onClose=${onClose}>
    <div class="cred-detail-top">
      <${StateBadge} row=${row} />
      <${EnableSwitch} row=${row} onToggle=${(target, on) => act("toggle", () => api.post(`${BASE}/${target.id}/disabled`, { disabled: !on }),
        t(on ? "credentials.enabled" : "credentials.disabled", { name }))} />
    </div>
    ${row.reasonDetail && row.reasonDetail !== row.lastError && html`<${Note} tone="warn">${row.reasonDetail}<//>`}
    ${row.lastError && html`<${Note} tone="bad">${row.lastError}${row.lastErrorAt ? ` (${fmtRelative(row.lastErrorAt)})` : ""}<//>`}
    <dl class="cred-facts" aria-label=${t("credentials.detail.facts")}>
      <${Fact} label=${t("credentials.detail.id")}>#${row.id}<//>
      <${Fact} label=${t("credentials.detail.email")}>${row.email || t("credentials.unknown")}<//>
      <${Fact} label=${t("credentials.col.method")}>${methodOf(row)}<//>
      <${Fact} label=${t("credentials.col.region")}>${regionOf(row)}<//>
      <${Fact} label=${t("credentials.detail.plan")}>${row.subscriptionTitle || t("credentials.unknown")}<//>
      <${Fact} label=${t("credentials.col.expiry")}>${row.expiresAt ? `${fmtDate(row.expiresAt)} (${fmtRelative(row.expiresAt)})` : t("credentials.unknown")}<//>
      <${Fact} label=${t("credentials.detail.last_used")}>${row.lastUsedAt ? fmtRelative(row.lastUsedAt) : t("credentials.none")}<//>
      <${Fact} label=${t("credentials.detail.successes")}>${fmtNumber(row.successCount)}<//>
      <${Fact} label=${t("credentials.detail.errors")}>${t("credentials.detail.errors_value", { total: fmtNumber(row.errorCount), row: fmtNumber(row.failureCount) })}<//>
      ${why && html`<${Fact} label=${t("credentials.detail.why")}>${why}<//>`}
      <${Fact} label=${t("credentials.detail.proxy")}>${row.proxyUrl || t("credentials.none")}<//>
      <${Fact} label=${t("credentials.detail.source")}>${row.source || t("credentials.unknown")}<//>
      ${row.refreshTokenPreview && html`<${Fact} label=${t("credentials.detail.token")}><span class="mono">${row.refreshTokenPreview}</span><//>`}
      ${row.balance && row.balance.nextResetAt && html`<${Fact} label=${t("credentials.detail.resets")}>${fmtDate(row.balance.nextResetAt)}<//>`}
    </dl>
    <div class="cred-detail-balance"><span class="cred-fact-label">${t("credentials.col.balance")}</span><${Balance} row=${row} /></div>
    <form class="cred-priority" onSubmit=${savePriority}>
      <${Field} label=${t("credentials.col.priority")} hint=${t("credentials.detail.priority_hint")} error=${priorityError}>
        ${(ids) => html`<${Input} ...${ids} type="number" min="0" step="1" inputmode="numeric" value=${priority}
          onInput=${(event) => setPriority(event.target.value)} />`}
      <//>
      <${Button} type="submit" busy=${busy === "priority"}>${t("credentials.detail.save_priority")}<//>
    </form>
    <div class="cred-detail-actions" role="group" aria-label=${t("credentials.detail.actions")}>
      <${Button} icon="check" onClick=${() => onVerify([row.id])}>${t("credentials.action.verify")}<//>
      <${Button} icon="refresh" busy=${busy === "refresh"} disabled=${row.authMethod === "api_key"} onClick=${refresh}>${t("credentials.action.refresh")}<//>
      <${Button} icon="download" busy=${busy === "balance"} onClick=${balance}>${t("credentials.action.balance")}<//>
      <${Button} icon="play" busy=${busy === "reset"} onClick=${() => act("reset", () => api.post(`${BASE}/${row.id}/reset`), t("credentials.action.reset_done", { name }))}>${t("credentials.action.reset")}<//>
      <span class="cred-spacer"></span>
      <${Button} variant="danger" icon="trash" busy=${busy === "delete"} onClick=${remove}>${t("credentials.action.delete")}<//>
    </div>
  <//>`;
}

function Filters({ search, setSearch, state, setState, group, setGroup, groups }) {
  return html`<div class="toolbar cred-filters">
    <${Field} label=${t("credentials.search")} className="cred-search">
      ${(ids) => html`<${Input} ...${ids} type="search" placeholder=${t("credentials.search_placeholder")} value=${search}
        onInput=${(event) => setSearch(event.target.value)} />`}
    <//>
    <${Field} label=${t("credentials.state")}>
      ${(ids) => html`<${Select} ...${ids} value=${state} onChange=${setState} options=${[
        ["", t("credentials.state.all")],
        ...["ready", "busy", "cooling", "disabled"].map((name) => [name, t("credentials.state." + name)]),
      ]} />`}
    <//>
    ${groups.length > 0 && html`<${Field} label=${t("credentials.group")}>
      ${(ids) => html`<${Select} ...${ids} value=${group} onChange=${setGroup}
        options=${[["", t("credentials.group.all")], ...groups.map((item) => [item.name, item.name])]} />`}
    <//>`}
  </div>`;
}

export default function CredentialsPage({ query }) {
  const [search, setSearch] = useState(query.get("q") || "");
  const [state, setState] = useState(query.get("state") || "");
  const [group, setGroup] = useState(query.get("group") || "");
  const [page, setPage] = useState(1);
  const [selected, setSelected] = useState(new Set());
  const [managing, setManaging] = useState(null);
  const [adding, setAdding] = useState(null);
  const [verifying, setVerifying] = useState(null);
  const [exporting, setExporting] = useState(false);
  const narrow = useNarrow();
  const q = useDebounced(search.trim(), 250);
  // A new filter is a new list: back to its first page, and nothing selected that is not shown.
  useEffect(() => {
    setPage(1);
    setSelected(new Set());
  }, [q, state, group]);

  const list = useAsync(() => api.get(BASE, { q, state, group, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE }), [q, state, group, page]);
  const groups = useAsync(() => api.get("/api/admin/groups"), []);
  // States change on their own (cooldowns end, requests fail): keep the list current.
  useInterval(() => !managing && !verifying && list.reload(), 15000);

  const data = list.data;
  const rows = data ? data.credentials : [];
  const filtered = Boolean(q || state || group);
  const reload = () => list.reload();
  const managed = managing !== null ? rows.find((row) => row.id === managing) : null;
  const nameById = (id) => {
    const row = rows.find((item) => item.id === id);
    return row ? nameOf(row) : `#${id}`;
  };

  const select = (id, on) => setSelected((previous) => {
    const next = new Set(previous);
    if (on) next.add(id);
    else next.delete(id);
    return next;
  });
  const selectAll = (on) => setSelected(on ? new Set(rows.map((row) => row.id)) : new Set());
  const toggle = (row, on) => attempt(async () => {
    await api.post(`${BASE}/${row.id}/disabled`, { disabled: !on });
    reload();
  }, t(on ? "credentials.enabled" : "credentials.disabled", { name: nameOf(row) }));

  async function bulkSet(on) {
    const ids = [...selected];
    const ok = await attempt(async () => {
      for (const id of ids) await api.post(`${BASE}/${id}/disabled`, { disabled: !on });
    }, t("credentials.bulk_done", { count: fmtNumber(ids.length) }));
    if (ok) setSelected(new Set());
    reload();
  }
  async function deleteFailed() {
    const sure = await confirmAction({
      title: t("credentials.delete_failed.title"),
      text: t("credentials.delete_failed.text"),
      confirm: t("credentials.delete_failed.confirm"),
    });
    if (!sure) return;
    await attempt(async () => {
      const answer = await api.post(`${BASE}/delete-failed`);
      toast(t("credentials.delete_failed.done", { count: fmtNumber(answer.deleted.length) }));
    });
    reload();
  }

  const subtitle = data
    ? t(filtered ? "credentials.summary_filtered" : "credentials.summary", {
      total: fmtNumber(data.total),
      available: fmtNumber(data.available),
      mode: known("mode", data.mode) || data.mode,
    })
    : t("credentials.subtitle");
  const empty = filtered
    ? html`<${Empty} icon="search" title=${t("credentials.nomatch.title")}
        action=${html`<${Button} onClick=${() => { setSearch(""); setState(""); setGroup(""); }}>${t("credentials.nomatch.clear")}<//>`} />`
    : html`<${Empty} icon="credentials" title=${t("credentials.empty.title")} text=${t("credentials.empty.text")}
        action=${html`<${Button} variant="primary" icon="play" onClick=${() => setAdding("device")}>${t("credentials.empty.login")}<//>
          <${Button} icon="upload" onClick=${() => setAdding("json")}>${t("credentials.empty.import")}<//>`} />`;

  return html`<div class="cred-page">
    <${PageHeader} title=${t("nav.credentials")} subtitle=${subtitle} actions=${html`
      <${Button} icon="check" onClick=${() => setVerifying({ all: true })} disabled=${!data || data.total === 0}>${t("credentials.verify_all")}<//>
      <${Button} icon="download" onClick=${() => setExporting(true)} disabled=${!data || data.total === 0}>${t("credentials.export")}<//>
      <${Button} variant="primary" icon="plus" onClick=${() => setAdding("device")}>${t("credentials.add")}<//>`} />
    <${Card}>
      ${(filtered || (data && data.total > 0)) && html`<div class="spread cred-toolbar">
        <${Filters} search=${search} setSearch=${setSearch} state=${state} setState=${setState} group=${group} setGroup=${setGroup}
          groups=${(groups.data && groups.data.groups) || []} />
        <${Button} variant="ghost" size="sm" icon="trash" onClick=${deleteFailed}>${t("credentials.delete_failed")}<//>
      </div>`}
      ${selected.size > 0 && html`<div class="cred-bulk" role="region" aria-label=${t("credentials.selected", { count: fmtNumber(selected.size) })}>
        <strong>${t("credentials.selected", { count: fmtNumber(selected.size) })}</strong>
        <${Button} size="sm" icon="check" onClick=${() => setVerifying({ ids: [...selected] })}>${t("credentials.verify_selected")}<//>
        <${Button} size="sm" icon="play" onClick=${() => bulkSet(true)}>${t("credentials.enable_selected")}<//>
        <${Button} size="sm" icon="pause" onClick=${() => bulkSet(false)}>${t("credentials.disable_selected")}<//>
        <${IconButton} icon="close" label=${t("credentials.clear_selection")} onClick=${() => setSelected(new Set())} />
      </div>`}
      <${ErrorNote} error=${list.error} retry=${reload} />
      ${data === undefined ? (list.error ? null : html`<${Loading} />`)
        : rows.length === 0 ? empty
        : narrow ? html`<${CredentialCards} rows=${rows} selected=${selected} onSelect=${select} onToggle=${toggle} onManage=${setManaging} />`
        : html`<${CredentialTable} rows=${rows} selected=${selected} onSelect=${select} onSelectAll=${selectAll} onToggle=${toggle} onManage=${setManaging} />`}
      ${data && html`<${Pagination} page=${page} pages=${Math.ceil(data.total / PAGE_SIZE)} onPage=${setPage} />`}
    <//>
    ${managed && html`<${CredentialDialog} row=${managed} onClose=${() => setManaging(null)} onChanged=${reload}
      onVerify=${(ids) => { setManaging(null); setVerifying({ ids }); }} />`}
    <${AddDialog} open=${adding !== null} tab=${adding || "device"} onTab=${setAdding} onClose=${() => setAdding(null)} onAdded=${reload} />
    ${verifying && html`<${VerifyDialog} target=${verifying} nameOf=${nameById} onClose=${() => setVerifying(null)} onDone=${reload} />`}
    ${exporting && html`<${ExportDialog} onClose=${() => setExporting(false)} />`}
  </div>`;
}
