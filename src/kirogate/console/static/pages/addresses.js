// Addresses: block and unblock addresses and networks, see recent visitors, set the
// per-address rate limit. A client of /api/admin/ips and of the runtime setting
// server.ip_rate_limit in /api/admin/settings (docs/addresses.md, docs/settings.md).
import { html, useState } from "../lib/preact.js";
import { api } from "../lib/api.js";
import { t, register, fmtNumber, fmtDate, fmtRelative } from "../lib/i18n.js";
import { navigate, href } from "../lib/router.js";
import { Icon } from "../lib/icons.js";
import {
  PageHeader, Card, Badge, Table, Empty, Modal, Button, Field, Input, Select, Segmented,
  ErrorNote, Loading, useAsync, useInterval, attempt, toast, loadStyle,
} from "../lib/ui.js";

loadStyle("pages/addresses.css");

register({
  en: {
    "addresses.subtitle": "Block addresses and networks, see who calls the gateway, and limit each address.",
    "addresses.blocked.title": "Blocked",
    "addresses.blocked.subtitle": "Blocked addresses get 403 on every client route, on every instance within a second.",
    "addresses.blocked.table": "Blocked addresses and networks",
    "addresses.blocked.empty": "Nothing is blocked",
    "addresses.blocked.empty_text": "Block an address (203.0.113.7) or a network (203.0.113.0/24, 2001:db8::/32) above, or a visitor below.",
    "addresses.col.address": "Address",
    "addresses.col.reason": "Reason",
    "addresses.col.since": "Blocked",
    "addresses.col.until": "Until",
    "addresses.col.actions": "Actions",
    "addresses.col.requests": "Requests",
    "addresses.col.first_seen": "First seen",
    "addresses.col.last_seen": "Last seen",
    "addresses.until_unblocked": "until unblocked",
    "addresses.no_reason": "no reason given",
    "addresses.unblock": "Unblock",
    "addresses.unblock_label": "Unblock {ip}",
    "addresses.unblocked": "{ip} is unblocked.",
    "addresses.block": "Block",
    "addresses.block_label": "Block {ip}",
    "addresses.blocked_done": "{ip} is blocked.",
    "addresses.form.ip": "Address or network",
    "addresses.form.ip_placeholder": "203.0.113.7 or 10.0.0.0/8",
    "addresses.form.reason": "Reason",
    "addresses.form.reason_placeholder": "optional: why",
    "addresses.form.duration": "For",
    "addresses.form.ip_required": "Give an address or a network.",
    "addresses.form.title": "Block {ip}",
    "addresses.duration.forever": "until unblocked",
    "addresses.duration.hour": "1 hour",
    "addresses.duration.day": "1 day",
    "addresses.duration.week": "7 days",
    "addresses.duration.month": "30 days",
    "addresses.limit.title": "Per-address rate limit",
    "addresses.limit.subtitle": "Requests each client address may make per window, checked before the key.",
    "addresses.limit.label": "Requests per address",
    "addresses.limit.hint": "0 turns it off. The window is server.ip_rate_window (60 s unless set at start).",
    "addresses.limit.off": "off",
    "addresses.limit.on": "{count} per window",
    "addresses.limit.save": "Save",
    "addresses.limit.saved": "The per-address rate limit is saved.",
    "addresses.limit.reset": "Use the configured value",
    "addresses.limit.reset_done": "The per-address rate limit is back to its configured value.",
    "addresses.limit.origin.runtime": "Set here; kept in the database.",
    "addresses.limit.origin.other": "From the {origin}.",
    "addresses.limit.origin.flag": "command line",
    "addresses.limit.origin.env": "environment",
    "addresses.limit.origin.file": "config file",
    "addresses.limit.origin.default": "defaults",
    "addresses.limit.missing": "This gateway has no runtime setting for the per-address rate limit.",
    "addresses.visitors.title": "Recent visitors",
    "addresses.visitors.subtitle": "Addresses that called a client route, most recent first (kept 7 days).",
    "addresses.visitors.table": "Recent visitors",
    "addresses.visitors.range": "Period",
    "addresses.visitors.empty": "No visitors in this period",
    "addresses.visitors.empty_text": "Addresses show here once they call a /v1 route.",
    "addresses.visitors.blocked": "blocked",
    "addresses.visitors.blocked_by": "Blocked by {network}",
    "addresses.visitors.logs": "Logs of {ip}",
    "addresses.range.hour": "Last hour",
    "addresses.range.day": "24 hours",
    "addresses.range.week": "7 days",
  },
  "zh-CN": {
    "addresses.subtitle": "封禁地址和网段，查看谁在调用网关，并限制每个地址的请求速率。",
    "addresses.blocked.title": "已封禁",
    "addresses.blocked.subtitle": "被封禁的地址在所有客户端接口上都会得到 403，一秒内对所有实例生效。",
    "addresses.blocked.table": "已封禁的地址和网段",
    "addresses.blocked.empty": "没有封禁任何地址",
    "addresses.blocked.empty_text": "在上方封禁一个地址（203.0.113.7）或网段（203.0.113.0/24、2001:db8::/32），也可以在下方封禁某个访客。",
    "addresses.col.address": "地址",
    "addresses.col.reason": "原因",
    "addresses.col.since": "封禁于",
    "addresses.col.until": "截止",
    "addresses.col.actions": "操作",
    "addresses.col.requests": "请求数",
    "addresses.col.first_seen": "首次出现",
    "addresses.col.last_seen": "最近出现",
    "addresses.until_unblocked": "直到解封",
    "addresses.no_reason": "未填写原因",
    "addresses.unblock": "解封",
    "addresses.unblock_label": "解封 {ip}",
    "addresses.unblocked": "{ip} 已解封。",
    "addresses.block": "封禁",
    "addresses.block_label": "封禁 {ip}",
    "addresses.blocked_done": "{ip} 已封禁。",
    "addresses.form.ip": "地址或网段",
    "addresses.form.ip_placeholder": "203.0.113.7 或 10.0.0.0/8",
    "addresses.form.reason": "原因",
    "addresses.form.reason_placeholder": "可选：为什么封禁",
    "addresses.form.duration": "时长",
    "addresses.form.ip_required": "请填写地址或网段。",
    "addresses.form.title": "封禁 {ip}",
    "addresses.duration.forever": "直到解封",
    "addresses.duration.hour": "1 小时",
    "addresses.duration.day": "1 天",
    "addresses.duration.week": "7 天",
    "addresses.duration.month": "30 天",
    "addresses.limit.title": "单地址速率限制",
    "addresses.limit.subtitle": "每个客户端地址在一个时间窗口内可发出的请求数，在检查密钥之前生效。",
    "addresses.limit.label": "每个地址的请求数",
    "addresses.limit.hint": "0 表示关闭。时间窗口为 server.ip_rate_window（启动时未设置则为 60 秒）。",
    "addresses.limit.off": "已关闭",
    "addresses.limit.on": "每个窗口 {count} 次",
    "addresses.limit.save": "保存",
    "addresses.limit.saved": "单地址速率限制已保存。",
    "addresses.limit.reset": "改用配置中的值",
    "addresses.limit.reset_done": "单地址速率限制已恢复为配置中的值。",
    "addresses.limit.origin.runtime": "在此处设置，保存在数据库中。",
    "addresses.limit.origin.other": "来自{origin}。",
    "addresses.limit.origin.flag": "命令行参数",
    "addresses.limit.origin.env": "环境变量",
    "addresses.limit.origin.file": "配置文件",
    "addresses.limit.origin.default": "默认值",
    "addresses.limit.missing": "这个网关没有可在运行时修改的单地址速率限制。",
    "addresses.visitors.title": "最近访客",
    "addresses.visitors.subtitle": "调用过客户端接口的地址，最近的在前（保留 7 天）。",
    "addresses.visitors.table": "最近访客",
    "addresses.visitors.range": "时间范围",
    "addresses.visitors.empty": "这段时间内没有访客",
    "addresses.visitors.empty_text": "地址调用 /v1 接口后会显示在这里。",
    "addresses.visitors.blocked": "已封禁",
    "addresses.visitors.blocked_by": "被 {network} 封禁",
    "addresses.visitors.logs": "查看 {ip} 的日志",
    "addresses.range.hour": "最近 1 小时",
    "addresses.range.day": "24 小时",
    "addresses.range.week": "7 天",
  },
});

const LIMIT_KEY = "server.ip_rate_limit";
const DURATIONS = [["", "forever"], ["3600", "hour"], ["86400", "day"], ["604800", "week"], ["2592000", "month"]];
const RANGES = [["hour", 3600], ["day", 86400], ["week", 7 * 86400]];

// ---- addresses as numbers, to tell which visitors a network covers

export function parseAddress(text) {
  const value = String(text || "").trim().split("%")[0];
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) {
    const parts = value.split(".").map(Number);
    if (parts.some((part) => part > 255)) return null;
    return { bits: 32, value: parts.reduce((total, part) => (total << 8n) + BigInt(part), 0n) };
  }
  if (!value.includes(":")) return null;
  const halves = value.split("::");
  if (halves.length > 2) return null;
  const groups = (half) => {
    if (!half) return [];
    const items = half.split(":");
    const last = items[items.length - 1];
    if (last.includes(".")) {
      const v4 = parseAddress(last);
      if (!v4) return null;
      items.splice(-1, 1, (v4.value >> 16n).toString(16), (v4.value & 0xffffn).toString(16));
    }
    return items;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const all = [...head, ...Array(missing).fill("0"), ...tail];
  if (all.some((group) => !/^[0-9a-f]{1,4}$/i.test(group))) return null;
  return { bits: 128, value: all.reduce((total, group) => (total << 16n) + BigInt(parseInt(group, 16)), 0n) };
}

// Whether the blocked address or network `block` covers `address`.
export function covers(block, address) {
  const [network, length] = String(block).split("/");
  const net = parseAddress(network);
  const one = parseAddress(address);
  if (!net || !one || net.bits !== one.bits) return false;
  const shift = BigInt(net.bits - (length === undefined ? net.bits : Number(length)));
  return net.value >> shift === one.value >> shift;
}

// "ip: '300.1.1.1' is not ..." / "reason is longer ..." -> the field and what to show with it.
function fieldOfError(message) {
  const match = /^(ip|reason|ttl|expires_at)(?::\s*|\s+)(.+)$/s.exec(message || "");
  if (!match) return null;
  const field = match[1] === "ttl" || match[1] === "expires_at" ? "duration" : match[1];
  return [field, match[1] === "ip" ? match[2] : message];
}

// ---- the page

export default function AddressesPage() {
  const blocks = useAsync(() => api.get("/api/admin/ips"), []);
  const [blocking, setBlocking] = useState(null); // a visitor's address to block
  const blocked = blocks.data ? blocks.data.blocked : [];

  async function unblock(ip) {
    if (await attempt(() => api.del("/api/admin/ips", { query: { ip } }), t("addresses.unblocked", { ip }))) blocks.reload();
  }
  function onBlocked(record) {
    toast(t("addresses.blocked_done", { ip: record.ip }));
    setBlocking(null);
    blocks.reload();
  }

  return html`<div class="addresses-page">
    <${PageHeader} title=${t("nav.addresses")} subtitle=${t("addresses.subtitle")} />
    <div class="addresses-top">
      <${Card} title=${t("addresses.blocked.title")} subtitle=${t("addresses.blocked.subtitle")}>
        <${BlockForm} onBlocked=${onBlocked} />
        ${blocks.error && html`<${ErrorNote} error=${blocks.error} retry=${blocks.reload} />`}
        ${!blocks.data && !blocks.error ? html`<${Loading} />` : blocks.data && html`<${BlockTable} blocked=${blocked} onUnblock=${unblock} />`}
      <//>
      <${RateLimit} />
    </div>
    <${Visitors} blocked=${blocked} onBlock=${setBlocking} onUnblock=${unblock} />
    <${Modal} open=${Boolean(blocking)} title=${blocking ? t("addresses.form.title", { ip: blocking }) : ""} onClose=${() => setBlocking(null)}>
      ${blocking && html`<${BlockForm} fixed=${blocking} onBlocked=${onBlocked} onCancel=${() => setBlocking(null)} />`}
    <//>
  </div>`;
}

// ---- blocking

function BlockForm({ fixed, onBlocked, onCancel }) {
  const [values, setValues] = useState({ ip: fixed || "", reason: "", duration: "" });
  const [errors, setErrors] = useState({});
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name) => (value) => {
    setValues({ ...values, [name]: value });
    if (errors[name]) setErrors({ ...errors, [name]: undefined });
  };

  async function submit(event) {
    event.preventDefault();
    setFailure(null);
    if (!values.ip.trim()) {
      setErrors({ ip: t("addresses.form.ip_required") });
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const body = { ip: values.ip.trim(), reason: values.reason.trim() || null };
      if (values.duration) body.ttl = Number(values.duration);
      const record = await api.post("/api/admin/ips", body);
      setValues({ ip: "", reason: "", duration: values.duration });
      onBlocked(record);
    } catch (error) {
      const named = error.status === 400 && fieldOfError(error.message);
      if (named) setErrors({ [named[0]]: named[1] });
      else setFailure(error);
    }
    setBusy(false);
  }

  const durations = DURATIONS.map(([value, name]) => [value, t("addresses.duration." + name)]);
  return html`<form class=${fixed ? "addresses-block-form stack" : "addresses-block-form addresses-inline"} onSubmit=${submit} noValidate>
    ${failure && html`<${ErrorNote} error=${failure} />`}
    ${!fixed && html`<${Field} label=${t("addresses.form.ip")} error=${errors.ip} className="addresses-ip-field">
      ${(ids) => html`<${Input} ...${ids} name="ip" class="input mono" autocomplete="off" spellcheck="false" placeholder=${t("addresses.form.ip_placeholder")}
        value=${values.ip} onInput=${(event) => set("ip")(event.target.value)} />`}
    <//>`}
    <${Field} label=${t("addresses.form.reason")} error=${errors.reason}>
      ${(ids) => html`<${Input} ...${ids} name="reason" maxLength="500" autocomplete="off" placeholder=${t("addresses.form.reason_placeholder")}
        value=${values.reason} onInput=${(event) => set("reason")(event.target.value)} autofocus=${Boolean(fixed)} />`}
    <//>
    <${Field} label=${t("addresses.form.duration")} error=${errors.duration} className="addresses-duration">
      ${(ids) => html`<${Select} ...${ids} name="duration" options=${durations} value=${values.duration} onChange=${set("duration")} />`}
    <//>
    <div class="addresses-form-actions">
      ${onCancel && html`<${Button} onClick=${onCancel}>${t("ui.cancel")}<//>`}
      <${Button} type="submit" variant=${fixed ? "danger" : "primary"} icon="plus" busy=${busy}>${t("addresses.block")}<//>
    </div>
  </form>`;
}

function BlockTable({ blocked, onUnblock }) {
  const columns = [
    { key: "ip", label: t("addresses.col.address"), render: (row) => html`<code class="addresses-ip">${row.ip}</code>` },
    { key: "reason", label: t("addresses.col.reason"), className: "addresses-reason", render: (row) => (row.reason ? row.reason : html`<span class="muted">${t("addresses.no_reason")}</span>`) },
    { key: "created_at", label: t("addresses.col.since"), className: "nowrap", render: (row) => html`<span title=${fmtDate(row.created_at, true)}>${fmtRelative(row.created_at)}</span>` },
    { key: "expires_at", label: t("addresses.col.until"), className: "nowrap", render: (row) => (row.expires_at ? html`<span title=${fmtDate(row.expires_at, true)}>${fmtRelative(row.expires_at)}</span>` : html`<span class="muted">${t("addresses.until_unblocked")}</span>`) },
    { key: "actions", label: t("addresses.col.actions"), align: "right", render: (row) => html`<${Button} size="sm" aria-label=${t("addresses.unblock_label", { ip: row.ip })} onClick=${() => onUnblock(row.ip)}>${t("addresses.unblock")}<//>` },
  ];
  return html`<div class="addresses-table"><${Table} columns=${columns} rows=${blocked} rowKey=${(row) => row.ip} caption=${t("addresses.blocked.table")}
    empty=${html`<${Empty} icon="credentials" title=${t("addresses.blocked.empty")} text=${t("addresses.blocked.empty_text")} />`} /></div>`;
}

// ---- the per-address rate limit (a runtime setting)

function RateLimit() {
  const settings = useAsync(() => api.get("/api/admin/settings"), []);
  const setting = settings.data && settings.data.settings.find((item) => item.key === LIMIT_KEY);
  const [draft, setDraft] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const value = draft ?? (setting ? String(setting.value ?? 0) : "");

  async function save(event) {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const text = value.trim();
      await api.patch("/api/admin/settings", { [LIMIT_KEY]: text === "" ? 0 : Number(text) });
      setDraft(null);
      toast(t("addresses.limit.saved"));
      settings.reload();
    } catch (failure) {
      // "setting 'server.ip_rate_limit': -1 is too small (...)": shown with the field.
      setError(failure.status === 400 ? failure.message.replace(/^setting '[^']+':\s*/, "") : failure);
    }
    setBusy(false);
  }
  async function reset() {
    if (await attempt(() => api.del(`/api/admin/settings/${LIMIT_KEY}`), t("addresses.limit.reset_done"))) {
      setDraft(null);
      settings.reload();
    }
  }

  let body;
  if (!settings.data) body = settings.error ? html`<${ErrorNote} error=${settings.error} retry=${settings.reload} />` : html`<${Loading} />`;
  else if (!setting) body = html`<p class="muted">${t("addresses.limit.missing")}</p>`;
  else {
    const current = Number(setting.value) || 0;
    const origin = setting.origin === "runtime"
      ? t("addresses.limit.origin.runtime")
      : t("addresses.limit.origin.other", { origin: t("addresses.limit.origin." + (["flag", "env", "file"].includes(setting.origin) ? setting.origin : "default")) });
    body = html`<form class="stack addresses-limit" onSubmit=${save} noValidate>
      <div class="addresses-limit-now">
        <${Badge} tone=${current ? "info" : "muted"}>${current ? t("addresses.limit.on", { count: fmtNumber(current) }) : t("addresses.limit.off")}<//>
        <span class="muted small">${origin}</span>
      </div>
      ${error && typeof error !== "string" && html`<${ErrorNote} error=${error} />`}
      <${Field} label=${t("addresses.limit.label")} hint=${t("addresses.limit.hint")} error=${typeof error === "string" ? error : null}>
        ${(ids) => html`<${Input} ...${ids} type="number" min="0" step="1" inputmode="numeric" name="ip_rate_limit"
          value=${value} onInput=${(event) => { setDraft(event.target.value); setError(null); }} />`}
      <//>
      <div class="row">
        <${Button} type="submit" variant="primary" busy=${busy}>${t("addresses.limit.save")}<//>
        ${setting.origin === "runtime" && html`<${Button} variant="ghost" onClick=${reset}>${t("addresses.limit.reset")}<//>`}
      </div>
    </form>`;
  }
  return html`<${Card} title=${t("addresses.limit.title")} subtitle=${t("addresses.limit.subtitle")}>${body}<//>`;
}

// ---- visitors

function Visitors({ blocked, onBlock, onUnblock }) {
  const [range, setRange] = useState("day");
  const seconds = RANGES.find(([name]) => name === range)[1];
  const visitors = useAsync(() => api.get("/api/admin/ips/visitors", { since: new Date(Date.now() - seconds * 1000).toISOString(), limit: 200 }), [range]);
  useInterval(() => visitors.reload(), 10000);

  const columns = [
    { key: "address", label: t("addresses.col.address"), render: (row) => {
      const by = blocked.find((block) => covers(block.ip, row.address));
      return html`<div class="row addresses-visitor">
        <code class="addresses-ip">${row.address}</code>
        ${by && html`<${Badge} tone="bad" title=${t("addresses.visitors.blocked_by", { network: by.ip })}>${t("addresses.visitors.blocked")}<//>`}
      </div>`;
    } },
    { key: "requests", label: t("addresses.col.requests"), align: "right", render: (row) => fmtNumber(row.requests) },
    { key: "first_seen", label: t("addresses.col.first_seen"), className: "nowrap", render: (row) => html`<span title=${fmtDate(row.first_seen, true)}>${fmtRelative(row.first_seen)}</span>` },
    { key: "last_seen", label: t("addresses.col.last_seen"), className: "nowrap", render: (row) => html`<span title=${fmtDate(row.last_seen, true)}>${fmtRelative(row.last_seen)}</span>` },
    { key: "actions", label: t("addresses.col.actions"), align: "right", render: (row) => html`<${VisitorActions} row=${row} blocked=${blocked} onBlock=${onBlock} onUnblock=${onUnblock} />` },
  ];
  return html`<${Card} title=${t("addresses.visitors.title")} subtitle=${t("addresses.visitors.subtitle")} className="addresses-visitors"
    actions=${html`<${Segmented} label=${t("addresses.visitors.range")} value=${range} onChange=${setRange}
      options=${RANGES.map(([name]) => [name, t("addresses.range." + name)])} />`}>
    ${visitors.error && html`<${ErrorNote} error=${visitors.error} retry=${visitors.reload} />`}
    ${!visitors.data && !visitors.error ? html`<${Loading} />` : visitors.data && html`<div class="addresses-table">
      <${Table} columns=${columns} rows=${visitors.data.visitors} rowKey=${(row) => row.address} caption=${t("addresses.visitors.table")}
        empty=${html`<${Empty} icon="addresses" title=${t("addresses.visitors.empty")} text=${t("addresses.visitors.empty_text")} />`} />
    </div>`}
  <//>`;
}

function VisitorActions({ row, blocked, onBlock, onUnblock }) {
  const ip = row.address;
  const exact = blocked.some((block) => block.ip === ip);
  const covered = blocked.some((block) => covers(block.ip, ip));
  const query = { client: ip };
  return html`<div class="addresses-actions">
    <a class="btn btn-ghost btn-sm" href=${href("logs") + "?" + new URLSearchParams(query)}
      aria-label=${t("addresses.visitors.logs", { ip })} title=${t("addresses.visitors.logs", { ip })}
      onClick=${(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        navigate("logs", query);
      }}><${Icon} name="logs" size=${16} /></a>
    ${exact
      ? html`<${Button} size="sm" aria-label=${t("addresses.unblock_label", { ip })} onClick=${() => onUnblock(ip)}>${t("addresses.unblock")}<//>`
      : html`<${Button} size="sm" disabled=${covered} aria-label=${t("addresses.block_label", { ip })} onClick=${() => onBlock(ip)}>${t("addresses.block")}<//>`}
  </div>`;
}
