// API keys: one client key per person or app, each with its own limits, group, expiry and usage.
// A client of /api/admin/keys and /api/admin/groups (docs/keys.md, docs/groups.md).
import { html, useState } from "../lib/preact.js";
import { api, ROOT } from "../lib/api.js";
import { t, register, fmtNumber, fmtCompact, fmtDate, fmtRelative } from "../lib/i18n.js";
import { navigate, href } from "../lib/router.js";
import {
  PageHeader, Card, Stat, Badge, Meter, Table, Empty, Modal, Button, IconButton, Field, Input, Select, Switch,
  CodeBlock, Note, ErrorNote, Loading, useAsync, useInterval, confirmAction, attempt, toast, loadStyle,
} from "../lib/ui.js";
import { Icon } from "../lib/icons.js";

loadStyle("pages/keys.css");

register({
  en: {
    "keys.subtitle": "One key per person or app, each with its own limits, group and usage.",
    "keys.create": "Create key",
    "keys.empty.title": "No API keys yet",
    "keys.empty.text": "Create one for each person or app: each gets its own limits and its own usage, and can be revoked on its own.",
    "keys.configured_note": "The key given with --api-key ({prefix}) keeps working as the unlimited default key.",
    "keys.table": "API keys",
    "keys.list.title": "Keys",
    "keys.list.subtitle": "Usage is counted per UTC day and month and refreshes every few seconds.",
    "keys.show_revoked": "Show revoked keys ({count})",
    "keys.col.key": "Key",
    "keys.col.group": "Group",
    "keys.col.state": "State",
    "keys.col.usage": "Usage",
    "keys.col.last_used": "Last used",
    "keys.col.actions": "Actions",
    "keys.state.active": "active",
    "keys.state.disabled": "disabled",
    "keys.state.expired": "expired",
    "keys.state.revoked": "revoked",
    "keys.state.configured": "configured",
    "keys.configured_title": "Given with --api-key: change it there and restart.",
    "keys.no_group": "whole pool",
    "keys.never": "never",
    "keys.expires": "expires {when}",
    "keys.expired_at": "expired {when}",
    "keys.today": "Today: {requests} requests · {tokens} tokens",
    "keys.today_one": "Today: 1 request · {tokens} tokens",
    "keys.meter.requests_per_day": "Requests today",
    "keys.meter.tokens_per_day": "Tokens today",
    "keys.meter.tokens_per_month": "Tokens this month",
    "keys.meter.label": "{name}: {what}",
    "keys.chip.rpm": "{count}/min",
    "keys.chip.max_concurrency": "{count} at a time",
    "keys.chip.models": "models: {models}",
    "keys.chip.unlimited": "no limits",
    "keys.action.logs": "Logs of {name}",
    "keys.action.edit": "Edit {name}",
    "keys.action.disable": "Disable {name}",
    "keys.action.enable": "Enable {name}",
    "keys.action.regenerate": "New secret for {name}",
    "keys.action.revoke": "Revoke {name}",
    "keys.disabled_done": "{name} is disabled: its requests get 401 until it is enabled.",
    "keys.enabled_done": "{name} is enabled again.",
    "keys.revoke.title": "Revoke {name}?",
    "keys.revoke.text": "The key stops working at once, on every instance. It stays in the list with its usage; a revoked key cannot be enabled again.",
    "keys.revoke.confirm": "Revoke",
    "keys.revoked_done": "{name} is revoked.",
    "keys.regenerate.title": "New secret for {name}?",
    "keys.regenerate.text": "The current secret stops working at once; the name, limits, group and usage stay. Whoever uses it needs the new one.",
    "keys.regenerate.confirm": "Make a new secret",
    "keys.stat.active": "Active keys",
    "keys.stat.active_hint": "{count} in all",
    "keys.stat.requests": "Requests today",
    "keys.stat.tokens_today": "Tokens today",
    "keys.stat.tokens_month": "Tokens this month",
    "keys.form.create_title": "Create an API key",
    "keys.form.edit_title": "Edit {name}",
    "keys.form.name": "Name",
    "keys.form.name_hint": "Who or what uses it: a person, a team, a CI job.",
    "keys.form.name_required": "Give the key a name.",
    "keys.form.group": "Credential group",
    "keys.form.group_none": "No group: the whole pool",
    "keys.form.group_hint": "A key in a group is served only by that group's credentials.",
    "keys.form.group_missing": "{name} (deleted)",
    "keys.form.expires": "Expires after",
    "keys.form.expires_hint": "The key stops working at the end of this day (UTC). Blank: never.",
    "keys.form.limits": "Limits",
    "keys.form.limits_hint": "Leave a field blank for no limit.",
    "keys.form.rpm": "Requests per minute",
    "keys.form.requests_per_day": "Requests per day",
    "keys.form.tokens_per_day": "Tokens per day",
    "keys.form.tokens_per_month": "Tokens per month",
    "keys.form.max_concurrency": "Requests at a time",
    "keys.form.models": "Models",
    "keys.form.models_hint": "Names or patterns, separated by commas (claude-sonnet-*, *haiku*). Blank: every model.",
    "keys.form.models_placeholder": "every model",
    "keys.form.no_limit": "no limit",
    "keys.form.save": "Save",
    "keys.form.saved": "{name} is saved.",
    "keys.created.title": "Your new API key",
    "keys.regenerated.title": "The new secret for {name}",
    "keys.created.warning": "Copy it now: it is shown only this once. Only a hash is kept, so nobody can show it again.",
    "keys.created.key": "The API key for {name}",
    "keys.created.how": "Clients send it as the x-api-key header or as Authorization: Bearer, to {base}/v1.",
    "keys.created.done": "I have copied it",
    "keys.created.connect": "How to connect a client",
  },
  "zh-CN": {
    "keys.subtitle": "为每个人或每个应用各建一个密钥，各自有独立的限额、分组和用量。",
    "keys.create": "创建密钥",
    "keys.empty.title": "还没有 API 密钥",
    "keys.empty.text": "为每个人或每个应用各创建一个：各自有独立的限额和用量，也可以单独吊销。",
    "keys.configured_note": "通过 --api-key 指定的密钥（{prefix}）仍作为不限额的默认密钥使用。",
    "keys.table": "API 密钥",
    "keys.list.title": "密钥",
    "keys.list.subtitle": "用量按 UTC 日和月统计，每隔几秒刷新一次。",
    "keys.show_revoked": "显示已吊销的密钥（{count}）",
    "keys.col.key": "密钥",
    "keys.col.group": "分组",
    "keys.col.state": "状态",
    "keys.col.usage": "用量",
    "keys.col.last_used": "最近使用",
    "keys.col.actions": "操作",
    "keys.state.active": "启用中",
    "keys.state.disabled": "已停用",
    "keys.state.expired": "已过期",
    "keys.state.revoked": "已吊销",
    "keys.state.configured": "配置项",
    "keys.configured_title": "由 --api-key 指定：请在那里修改并重启。",
    "keys.no_group": "整个凭证池",
    "keys.never": "从未",
    "keys.expires": "{when}过期",
    "keys.expired_at": "{when}已过期",
    "keys.today": "今日：{requests} 次请求 · {tokens} tokens",
    "keys.today_one": "今日：1 次请求 · {tokens} tokens",
    "keys.meter.requests_per_day": "今日请求",
    "keys.meter.tokens_per_day": "今日 tokens",
    "keys.meter.tokens_per_month": "本月 tokens",
    "keys.meter.label": "{name}：{what}",
    "keys.chip.rpm": "{count} 次/分钟",
    "keys.chip.max_concurrency": "同时 {count} 个",
    "keys.chip.models": "模型：{models}",
    "keys.chip.unlimited": "不限额",
    "keys.action.logs": "查看 {name} 的日志",
    "keys.action.edit": "编辑 {name}",
    "keys.action.disable": "停用 {name}",
    "keys.action.enable": "启用 {name}",
    "keys.action.regenerate": "为 {name} 生成新密钥",
    "keys.action.revoke": "吊销 {name}",
    "keys.disabled_done": "{name} 已停用：重新启用前，它的请求都会得到 401。",
    "keys.enabled_done": "{name} 已重新启用。",
    "keys.revoke.title": "吊销 {name}？",
    "keys.revoke.text": "密钥会立即在所有实例上失效。它仍保留在列表中并显示用量；吊销后无法再启用。",
    "keys.revoke.confirm": "吊销",
    "keys.revoked_done": "{name} 已吊销。",
    "keys.regenerate.title": "为 {name} 生成新密钥？",
    "keys.regenerate.text": "当前密钥会立即失效；名称、限额、分组和用量保持不变。使用它的人需要换成新密钥。",
    "keys.regenerate.confirm": "生成新密钥",
    "keys.stat.active": "启用中的密钥",
    "keys.stat.active_hint": "共 {count} 个",
    "keys.stat.requests": "今日请求",
    "keys.stat.tokens_today": "今日 tokens",
    "keys.stat.tokens_month": "本月 tokens",
    "keys.form.create_title": "创建 API 密钥",
    "keys.form.edit_title": "编辑 {name}",
    "keys.form.name": "名称",
    "keys.form.name_hint": "谁或什么在用它：某个人、团队或 CI 任务。",
    "keys.form.name_required": "请为密钥起个名字。",
    "keys.form.group": "凭证分组",
    "keys.form.group_none": "不分组：使用整个凭证池",
    "keys.form.group_hint": "属于某个分组的密钥只由该分组的凭证提供服务。",
    "keys.form.group_missing": "{name}（已删除）",
    "keys.form.expires": "有效期至",
    "keys.form.expires_hint": "密钥在这一天结束时（UTC）失效。留空：永不过期。",
    "keys.form.limits": "限额",
    "keys.form.limits_hint": "留空表示不限。",
    "keys.form.rpm": "每分钟请求数",
    "keys.form.requests_per_day": "每日请求数",
    "keys.form.tokens_per_day": "每日 tokens",
    "keys.form.tokens_per_month": "每月 tokens",
    "keys.form.max_concurrency": "同时进行的请求数",
    "keys.form.models": "模型",
    "keys.form.models_hint": "模型名或通配模式，用逗号分隔（claude-sonnet-*、*haiku*）。留空：所有模型。",
    "keys.form.models_placeholder": "所有模型",
    "keys.form.no_limit": "不限",
    "keys.form.save": "保存",
    "keys.form.saved": "{name} 已保存。",
    "keys.created.title": "新的 API 密钥",
    "keys.regenerated.title": "{name} 的新密钥",
    "keys.created.warning": "请现在就复制：它只显示这一次。网关只保存它的哈希，之后谁也无法再查看。",
    "keys.created.key": "{name} 的 API 密钥",
    "keys.created.how": "客户端可以通过 x-api-key 请求头或 Authorization: Bearer 发送它，地址为 {base}/v1。",
    "keys.created.done": "我已复制",
    "keys.created.connect": "如何接入客户端",
  },
});

const NUMBER_LIMITS = ["rpm", "requests_per_day", "tokens_per_day", "tokens_per_month", "max_concurrency"];
// The form shows the request limits on one line and the token limits on the next.
const FORM_ORDER = ["rpm", "requests_per_day", "max_concurrency", "tokens_per_day", "tokens_per_month"];
// The limits the listing has a count for: [limit, usage period, counted field].
const METERED = [
  ["requests_per_day", "today", "requests"],
  ["tokens_per_day", "today", "tokens"],
  ["tokens_per_month", "month", "tokens"],
];

export function keyState(key) {
  if (key.revoked) return ["revoked", "bad"];
  if (key.expired) return ["expired", "warn"];
  if (!key.enabled) return ["disabled", "muted"];
  return ["active", "ok"];
}

// ---- the page

export default function KeysPage() {
  const keys = useAsync(() => api.get("/api/admin/keys"), []);
  const [form, setForm] = useState(null); // null | { key?: existing key }
  const [shown, setShown] = useState(null); // { key, name, regenerated } shown once
  const [showRevoked, setShowRevoked] = useState(false);
  // Usage moves with every request: a light poll keeps the bars current.
  useInterval(() => !form && keys.reload(), 5000);

  const all = keys.data ? keys.data.keys : [];
  const created = all.filter((key) => !key.configured);
  const revoked = created.filter((key) => key.revoked);
  const visible = all.filter((key) => showRevoked || !key.revoked);
  const createButton = html`<${Button} variant="primary" icon="plus" onClick=${() => setForm({})}>${t("keys.create")}<//>`;

  function onSaved(saved, plaintext) {
    setForm(null);
    keys.reload();
    if (plaintext) setShown({ key: plaintext, name: saved.name, regenerated: false });
    else toast(t("keys.form.saved", { name: saved.name }));
  }

  const actions = {
    edit: (key) => setForm({ key }),
    toggle: async (key) => {
      const enabled = !key.enabled;
      const done = await attempt(() => api.patch(`/api/admin/keys/${key.id}`, { enabled }),
        t(enabled ? "keys.enabled_done" : "keys.disabled_done", { name: key.name }));
      if (done) keys.reload();
    },
    regenerate: async (key) => {
      const sure = await confirmAction({ title: t("keys.regenerate.title", { name: key.name }), text: t("keys.regenerate.text"), confirm: t("keys.regenerate.confirm") });
      if (!sure) return;
      await attempt(async () => {
        const answer = await api.post(`/api/admin/keys/${key.id}/regenerate`);
        setShown({ key: answer.key, name: answer.name, regenerated: true });
      });
      keys.reload();
    },
    revoke: async (key) => {
      const sure = await confirmAction({ title: t("keys.revoke.title", { name: key.name }), text: t("keys.revoke.text"), confirm: t("keys.revoke.confirm") });
      if (!sure) return;
      if (await attempt(() => api.del(`/api/admin/keys/${key.id}`), t("keys.revoked_done", { name: key.name }))) keys.reload();
    },
  };

  let body;
  if (!keys.data) body = keys.error ? html`<${ErrorNote} error=${keys.error} retry=${keys.reload} />` : html`<${Loading} />`;
  else if (created.length === revoked.length && !showRevoked) {
    body = html`<${EmptyKeys} configured=${all.filter((key) => key.configured)} action=${html`${createButton}
      ${revoked.length > 0 && html`<${Button} variant="ghost" onClick=${() => setShowRevoked(true)}>${t("keys.show_revoked", { count: revoked.length })}<//>`}`} />`;
  }
  else body = html`
    ${keys.error && html`<${ErrorNote} error=${keys.error} retry=${keys.reload} />`}
    <${Totals} keys=${created} />
    <${Card} title=${t("keys.list.title")} subtitle=${t("keys.list.subtitle")}
      actions=${revoked.length > 0 && html`<label class="keys-revoked-toggle small muted">
        <${Switch} checked=${showRevoked} onChange=${setShowRevoked} label=${t("keys.show_revoked", { count: revoked.length })} />
        <span aria-hidden="true">${t("keys.show_revoked", { count: revoked.length })}</span></label>`}>
      <${KeyTable} keys=${visible} actions=${actions} />
    <//>`;

  return html`<div class="keys-page">
    <${PageHeader} title=${t("nav.keys")} subtitle=${t("keys.subtitle")} actions=${created.length > revoked.length || showRevoked ? createButton : null} />
    ${body}
    ${form && html`<${KeyForm} existing=${form.key} onClose=${() => setForm(null)} onSaved=${onSaved} />`}
    <${ShownKey} shown=${shown} onClose=${() => setShown(null)} />
  </div>`;
}

function EmptyKeys({ configured, action }) {
  return html`<div class="card">
    <${Empty} icon="keys" title=${t("keys.empty.title")} text=${t("keys.empty.text")} action=${action} />
    ${configured.length > 0 && html`<p class="keys-configured-note muted small">${t("keys.configured_note", { prefix: configured[0].prefix })}</p>`}
  </div>`;
}

function Totals({ keys }) {
  const sum = (period, field) => keys.reduce((total, key) => total + ((key.usage && key.usage[period] && key.usage[period][field]) || 0), 0);
  const active = keys.filter((key) => keyState(key)[0] === "active").length;
  return html`<div class="grid grid-4 keys-totals">
    <${Stat} label=${t("keys.stat.active")} value=${fmtNumber(active)} hint=${t("keys.stat.active_hint", { count: fmtNumber(keys.length) })} />
    <${Stat} label=${t("keys.stat.requests")} value=${fmtCompact(sum("today", "requests"))} />
    <${Stat} label=${t("keys.stat.tokens_today")} value=${fmtCompact(sum("today", "tokens"))} />
    <${Stat} label=${t("keys.stat.tokens_month")} value=${fmtCompact(sum("month", "tokens"))} />
  </div>`;
}

// ---- the list

function KeyTable({ keys, actions }) {
  const columns = [
    { key: "name", label: t("keys.col.key"), render: (key) => html`<${KeyName} item=${key} />` },
    { key: "group", label: t("keys.col.group"), render: (key) => (key.group ? html`<${Badge} tone="info">${key.group}<//>` : html`<span class="muted small">${t("keys.no_group")}</span>`) },
    { key: "state", label: t("keys.col.state"), render: (key) => html`<${StateBadge} item=${key} />` },
    { key: "usage", label: t("keys.col.usage"), className: "keys-usage-cell", render: (key) => html`<${Usage} item=${key} />` },
    { key: "last_used", label: t("keys.col.last_used"), className: "nowrap", render: (key) => (key.last_used_at ? html`<span title=${fmtDate(key.last_used_at, true)}>${fmtRelative(key.last_used_at)}</span>` : html`<span class="muted">${t("keys.never")}</span>`) },
    { key: "actions", label: t("keys.col.actions"), align: "right", render: (key) => html`<${RowActions} item=${key} actions=${actions} />` },
  ];
  return html`<div class="keys-table"><${Table} columns=${columns} rows=${keys} caption=${t("keys.table")} /></div>`;
}

function KeyName({ item }) {
  let expiry = null;
  if (item.expires_at) expiry = t(item.expired ? "keys.expired_at" : "keys.expires", { when: fmtRelative(item.expires_at) });
  return html`<div class="keys-name">
    <strong>${item.name}</strong>
    <span class="muted small"><code>${item.prefix}</code>${expiry && html` · <span title=${fmtDate(item.expires_at)}>${expiry}</span>`}</span>
  </div>`;
}

function StateBadge({ item }) {
  if (item.configured) return html`<${Badge} tone="info" title=${t("keys.configured_title")}>${t("keys.state.configured")}<//>`;
  const [state, tone] = keyState(item);
  return html`<${Badge} tone=${tone}>${t("keys.state." + state)}<//>`;
}

// A bar for each limit the listing has a count for; the others (per minute, at a time,
// models) as chips, since the listing has no count for them.
function Usage({ item }) {
  const limits = item.limits || {};
  const usage = item.usage || {};
  const today = usage.today || {};
  const bars = METERED.filter(([limit]) => limits[limit]);
  const chips = [];
  if (limits.rpm) chips.push(t("keys.chip.rpm", { count: fmtNumber(limits.rpm) }));
  if (limits.max_concurrency) chips.push(t("keys.chip.max_concurrency", { count: fmtNumber(limits.max_concurrency) }));
  if (limits.models && limits.models.length) chips.push(t("keys.chip.models", { models: limits.models.join(", ") }));
  if (!bars.length && !chips.length) chips.push(t("keys.chip.unlimited"));
  return html`<div class="keys-usage">
    <div class="keys-today small">${t(today.requests === 1 ? "keys.today_one" : "keys.today", { requests: fmtNumber(today.requests || 0), tokens: fmtCompact(today.tokens || 0) })}</div>
    ${bars.map(([limit, period, field]) => {
      const used = (usage[period] && usage[period][field]) || 0;
      const format = field === "tokens" ? fmtCompact : fmtNumber;
      return html`<div class="keys-meter">
        <div class="keys-meter-head"><span>${t("keys.meter." + limit)}</span>
          <span class="keys-meter-value">${t("ui.of", { used: format(used), limit: format(limits[limit]) })}</span></div>
        <${Meter} value=${used} max=${limits[limit]} showText=${false} format=${format}
          label=${t("keys.meter.label", { name: item.name, what: t("keys.meter." + limit) })} />
      </div>`;
    })}
    ${chips.length > 0 && html`<div class="keys-chips">${chips.map((chip) => html`<span class="keys-chip">${chip}</span>`)}</div>`}
  </div>`;
}

function logsQuery(item) {
  // The configured key is logged with no id and the name "default".
  return item.configured ? { key_name: "default" } : { key_id: item.id };
}

function RowActions({ item, actions }) {
  const name = item.name;
  const query = logsQuery(item);
  const logs = html`<a class="btn btn-ghost btn-icon" href=${href("logs") + "?" + new URLSearchParams(query)}
    aria-label=${t("keys.action.logs", { name })} title=${t("keys.action.logs", { name })}
    onClick=${(event) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      navigate("logs", query);
    }}><${Icon} name="logs" /></a>`;
  if (item.configured || item.revoked) return html`<div class="keys-actions">${logs}</div>`;
  return html`<div class="keys-actions">
    ${logs}
    <${IconButton} icon="edit" label=${t("keys.action.edit", { name })} onClick=${() => actions.edit(item)} />
    <${IconButton} icon=${item.enabled ? "pause" : "play"} label=${t(item.enabled ? "keys.action.disable" : "keys.action.enable", { name })} onClick=${() => actions.toggle(item)} />
    <${IconButton} icon="refresh" label=${t("keys.action.regenerate", { name })} onClick=${() => actions.regenerate(item)} />
    <${IconButton} icon="trash" label=${t("keys.action.revoke", { name })} className="keys-danger" onClick=${() => actions.revoke(item)} />
  </div>`;
}

// ---- create and edit

function initialForm(existing) {
  const limits = (existing && existing.limits) || {};
  const values = { name: existing ? existing.name : "", group: (existing && existing.group) || "", expires: "", models: (limits.models || []).join(", ") };
  for (const limit of NUMBER_LIMITS) values[limit] = limits[limit] ? String(limits[limit]) : "";
  if (existing && existing.expires_at) values.expires = new Date(existing.expires_at).toISOString().slice(0, 10);
  return values;
}

// What the form says, as the API's body. Blank numbers are no limit; a value the API refuses
// comes back as a message naming the field.
function formBody(values) {
  const limits = {};
  for (const limit of NUMBER_LIMITS) {
    const text = values[limit].trim();
    limits[limit] = text === "" ? null : Number(text);
  }
  const models = values.models.split(",").map((model) => model.trim()).filter(Boolean);
  limits.models = models.length ? models : null;
  return {
    name: values.name.trim(),
    limits,
    group: values.group || null,
    // The end of the chosen day, UTC: "expires after 31 Dec" means it works all that day.
    expires_at: values.expires ? `${values.expires}T23:59:59Z` : null,
  };
}

// "limits.rpm: must be ..." -> ["rpm", "must be ..."]; null when no form field is named.
export function fieldOfError(message, fields) {
  const match = /^([\w.]+):\s*(.+)$/s.exec(message || "");
  if (!match) return null;
  const field = match[1].replace(/^limits\./, "");
  const name = field === "expires_at" ? "expires" : field;
  return fields.includes(name) ? [name, match[2]] : null;
}

function KeyForm({ existing, onClose, onSaved }) {
  const [values, setValues] = useState(() => initialForm(existing));
  const [errors, setErrors] = useState({});
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);
  const groups = useAsync(() => api.get("/api/admin/groups").catch(() => ({ groups: [] })), []);
  // Editing a field clears what the API said about it.
  const set = (name) => (event) => {
    setValues({ ...values, [name]: event.target.value });
    if (errors[name]) setErrors({ ...errors, [name]: undefined });
  };
  const fields = ["name", "group", "expires", "models", ...NUMBER_LIMITS];

  async function submit(event) {
    event.preventDefault();
    setFailure(null);
    if (!values.name.trim()) {
      setErrors({ name: t("keys.form.name_required") });
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const body = formBody(values);
      const saved = existing ? await api.patch(`/api/admin/keys/${existing.id}`, body) : await api.post("/api/admin/keys", body);
      onSaved(saved, saved.key);
    } catch (error) {
      const named = fieldOfError(error.message, fields);
      if (named && error.status === 400) setErrors({ [named[0]]: named[1] });
      else setFailure(error);
      setBusy(false);
    }
  }

  const groupNames = groups.data ? groups.data.groups.map((group) => group.name) : [];
  if (values.group && !groupNames.includes(values.group)) groupNames.push(values.group);
  const groupOptions = [["", t("keys.form.group_none")], ...groupNames.map((name) => [name, groups.data && !groups.data.groups.some((group) => group.name === name) ? t("keys.form.group_missing", { name }) : name])];
  const title = existing ? t("keys.form.edit_title", { name: existing.name }) : t("keys.form.create_title");
  const number = (limit) => html`<${Field} label=${t("keys.form." + limit)} error=${errors[limit]} className=${"keys-limit-" + limit}>
    ${(ids) => html`<${Input} ...${ids} type="number" min="1" step="1" inputmode="numeric" name=${limit} placeholder=${t("keys.form.no_limit")}
      value=${values[limit]} onInput=${set(limit)} />`}
  <//>`;
  const models = values.models.split(",").map((model) => model.trim()).filter(Boolean);

  return html`<${Modal} open=${true} title=${title} onClose=${onClose} wide
    footer=${html`<${Button} onClick=${onClose}>${t("ui.cancel")}<//>
      <${Button} variant="primary" type="submit" form="keys-form" busy=${busy}>${existing ? t("keys.form.save") : t("keys.create")}<//>`}>
    <form id="keys-form" class="keys-form" onSubmit=${submit} noValidate>
      ${failure && html`<${ErrorNote} error=${failure} />`}
      <div class="grid grid-2">
        <${Field} label=${t("keys.form.name")} hint=${t("keys.form.name_hint")} error=${errors.name} className="keys-span">
          ${(ids) => html`<${Input} ...${ids} name="name" required maxLength="200" autocomplete="off" autofocus value=${values.name} onInput=${set("name")} />`}
        <//>
        <${Field} label=${t("keys.form.group")} hint=${t("keys.form.group_hint")} error=${errors.group}>
          ${(ids) => html`<${Select} ...${ids} name="group" options=${groupOptions} value=${values.group} onChange=${(group) => set("group")({ target: { value: group } })} />`}
        <//>
        <${Field} label=${t("keys.form.expires")} hint=${t("keys.form.expires_hint")} error=${errors.expires}>
          ${(ids) => html`<${Input} ...${ids} type="date" name="expires" value=${values.expires} onInput=${set("expires")} />`}
        <//>
      </div>
      <fieldset class="keys-limits">
        <legend>${t("keys.form.limits")}</legend>
        <p class="muted small">${t("keys.form.limits_hint")}</p>
        <div class="keys-limit-grid">
          ${FORM_ORDER.map(number)}
        </div>
        <${Field} label=${t("keys.form.models")} hint=${t("keys.form.models_hint")} error=${errors.models}>
          ${(ids) => html`<${Input} ...${ids} name="models" autocomplete="off" placeholder=${t("keys.form.models_placeholder")} value=${values.models} onInput=${set("models")} />`}
        <//>
        ${models.length > 0 && html`<div class="keys-chips" aria-hidden="true">${models.map((model) => html`<span class="keys-chip">${model}</span>`)}</div>`}
      </fieldset>
    </form>
  <//>`;
}

// ---- the key, shown once

function ShownKey({ shown, onClose }) {
  const title = shown && (shown.regenerated ? t("keys.regenerated.title", { name: shown.name }) : t("keys.created.title"));
  return html`<${Modal} open=${Boolean(shown)} title=${title || ""} onClose=${onClose}
    footer=${html`<${Button} variant="ghost" onClick=${() => { onClose(); navigate("connect"); }}>${t("keys.created.connect")}<//>
      <${Button} variant="primary" icon="check" onClick=${onClose}>${t("keys.created.done")}<//>`}>
    ${shown && html`<div class="keys-shown">
      <${Note} tone="warn">${t("keys.created.warning")}<//>
      <p class="keys-shown-name"><strong>${shown.name}</strong></p>
      <${CodeBlock} text=${shown.key} label=${t("keys.created.key", { name: shown.name })} />
      <p class="muted small">${t("keys.created.how", { base: window.location.origin + ROOT })}</p>
    </div>`}
  <//>`;
}
