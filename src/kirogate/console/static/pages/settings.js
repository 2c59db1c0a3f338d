// The settings page: every runtime setting of /api/admin/settings, grouped by section, each
// with its origin, its default and a reset; plus the operator resources that have no page of
// their own (alert webhooks, the proxy pool, credential groups) as further sections.
import { html, useState, useEffect, useRef, useId } from "../lib/preact.js";
import { api, ApiError } from "../lib/api.js";
import { t, register, fmtNumber, fmtRelative, fmtDate } from "../lib/i18n.js";
import { navigate, session } from "../lib/router.js";
import { Icon } from "../lib/icons.js";
import {
  PageHeader, Card, Badge, Button, IconButton, Field, Input, TextArea, Select, Switch, Table, Empty,
  Modal, Note, ErrorNote, Loading, useAsync, toast, attempt, confirmAction, plainError, loadStyle,
} from "../lib/ui.js";

loadStyle("pages/settings.css");

// ---- words

// Known settings: [English label, Chinese label, Chinese help, English help (the API's own
// description, worded as a sentence)]. A key this table lacks is drawn from its own words and
// the API's description.
const KNOWN = {
  "pool.mode": ["Pool mode", "号池模式", "没有会话绑定的请求如何从号池中挑选凭证", "How the pool picks a credential for a request without a session binding"],
  "pool.max_attempts": ["Attempts per request", "每个请求的尝试次数", "每个请求对上游的总尝试次数（跨所有凭证）", "Upstream attempts per request, over every credential"],
  "pool.attempts_per_credential": ["Attempts per credential", "每个凭证的尝试次数", "在一个凭证上失败多少次后切换到下一个", "Attempts on one credential before failing over"],
  "pool.failure_threshold": ["Failure threshold", "失败阈值", "连续失败多少次后停用凭证；0 表示从不停用", "Failures in a row before a credential is disabled; 0 = never"],
  "pool.cooldown_429": ["Cooldown after a 429", "429 后的冷却时间", "凭证首次收到 429 后休息的秒数（每连续一次 429 翻倍）", "Seconds a credential rests after its first 429 (doubles per 429)"],
  "pool.cooldown_429_max": ["Longest 429 cooldown", "429 冷却上限", "连续 429 后最长的休息时间（也是 Retry-After 提示的上限）", "The longest rest after 429s (also caps a Retry-After hint)"],
  "pool.suspended_cooldown": ["Suspended cooldown", "暂停冷却时间", "被临时暂停的凭证休息的秒数", "Seconds a temporarily suspended credential rests"],
  "pool.max_concurrency_per_credential": ["Concurrent requests per credential", "每个凭证的并发请求数", "每个凭证同时进行的请求数；0 表示不限", "Requests in flight per credential; 0 = unlimited"],
  "pool.queue_timeout": ["Queue timeout", "排队超时", "所有凭证都忙时，请求等待空闲凭证的秒数", "Seconds a request waits for a free credential when all are busy"],
  "upstream.proxy_url": ["Global proxy", "全局代理", "上游调用使用的全局代理（direct 表示不使用代理）", "The global proxy for upstream calls ('direct' = none)"],
  "upstream.first_token_timeout": ["First token timeout", "首个事件超时", "等待上游第一个事件的秒数", "Seconds to wait for the upstream's first event"],
  "upstream.stream_idle_timeout": ["Stream idle timeout", "流空闲超时", "流中多少秒没有事件就结束它", "Seconds without an event before a stream is ended"],
  "models.aliases": ["Aliases", "别名", "额外的公开模型名，每个映射到一个目标模型", "Extra public model names, each mapped to a target model"],
  "models.overrides": ["Overrides", "覆盖规则", "在内置映射表之前应用的客户端模型名或通配模式 → 目标模型", "Client names or patterns mapped to a target, before the built-in table"],
  "models.hidden": ["Hidden models", "隐藏的模型", "不在 /v1/models 中列出的名称或模式（仍然可以使用）", "Names or patterns left out of /v1/models (still served)"],
  "models.fallback": ["Fallback model", "兜底模型", "未知模型名使用的模型，而不是返回 404", "The model an unknown model name gets instead of a 404"],
  "models.forced": ["Forced model", "强制模型", "无论请求什么模型，都使用这个模型", "Every request uses this model, whatever it asks for"],
  "compression.enabled": ["Context compression", "上下文压缩", "对话变大后，把较早的轮次总结成摘要", "Summarise older turns once a conversation is large"],
  "compression.max_tokens": ["Compress above (tokens)", "压缩阈值（token）", "估算的输入超过这么多 token 时压缩", "Compress when the estimated input passes this many tokens"],
  "compression.max_messages": ["Compress above (messages)", "压缩阈值（消息数）", "……或消息数超过这个值时压缩；0 表示不限", "... or has more than this many messages; 0 = no limit"],
  "compression.keep_last": ["Turns kept verbatim", "原样保留的轮次", "摘要之后原样保留的最近轮次", "Recent turns kept verbatim after the summary"],
  "compression.summary_max_tokens": ["Summary length (tokens)", "摘要长度（token）", "向上游请求摘要时最多的 token 数", "The most tokens asked of the upstream for a summary"],
  "console.announcement": ["Announcement", "公告", "显示在网页控制台顶部的通知", "A notice shown at the top of the web console"],
  "log.retention_days": ["Log retention (days)", "日志保留天数", "早于这个天数的请求日志会被删除；0 表示一直保留", "Request log rows older than this are deleted; 0 keeps them"],
  "log.bodies": ["Record bodies", "记录请求体", "在请求日志中记录请求和响应的内容（已脱敏、有长度上限）", "Record request and response bodies in the request log (redacted, capped)"],
  "server.ip_rate_limit": ["Requests per address", "每个地址的请求数", "每个客户端地址在 server.ip_rate_window 内允许的请求数；0 表示关闭", "Requests per client address per server.ip_rate_window; 0 = off"],
  "proxy.strategy": ["Proxy strategy", "代理策略", "没有指定代理的凭证如何在代理池中轮换", "How credentials without an assigned proxy rotate over the proxy pool"],
};

// Sections of runtime settings, in this order; a group the API adds later gets its own section.
const SECTIONS = ["pool", "upstream", "models", "compression", "console", "log", "server"];
// Runtime groups drawn inside a resource section instead of their own.
const FOLDED = { proxy: "proxies" };
const RESOURCES = ["alerts", "proxies", "groups"];

// Choice values in words (the value itself is what is sent).
const CHOICES = {
  priority: ["Priority", "优先级"],
  balanced: ["Balanced", "均衡"],
  round_robin: ["Round robin", "轮询"],
  random: ["Random", "随机"],
  weighted: ["Weighted", "加权"],
  assigned: ["Assigned only", "仅指定的"],
  least_used: ["Least used", "最少使用"],
  sticky: ["Sticky", "固定"],
};

// Examples in empty fields (values, so the same in every language).
const PLACEHOLDERS = {
  "models.aliases": "team-fast = claude-haiku-4.5",
  "models.overrides": "gpt-4* = claude-sonnet-4.5",
  "models.hidden": "claude-opus-4-7\nminimax-*",
  "models.fallback": "claude-sonnet-4.5",
  "models.forced": "claude-sonnet-4.5",
  "upstream.proxy_url": "socks5://10.0.0.5:1080",
};

const EVENTS = ["credential_disabled", "quota_exhausted", "refresh_failing", "all_unusable", "key_limit"];

const en = {
  "settings.subtitle": "Changes apply from the next request on, survive restarts and reach every instance within a second.",
  "settings.nav": "Settings sections",
  "settings.nav.runtime": "Runtime settings",
  "settings.nav.resources": "Operator resources",
  "settings.section.pool": "Pool",
  "settings.section.upstream": "Upstream",
  "settings.section.models": "Models",
  "settings.section.compression": "Compression",
  "settings.section.console": "Console",
  "settings.section.log": "Request log",
  "settings.section.server": "Server",
  "settings.section.alerts": "Alerts",
  "settings.section.proxies": "Proxies",
  "settings.section.groups": "Credential groups",
  "settings.section.proxy": "Rotation",
  "settings.about.proxy": "How credentials without an assigned proxy pick one from the pool.",
  "settings.about.pool": "How a request picks a credential, how often it retries, and how long a credential rests.",
  "settings.about.upstream": "Timeouts and the global proxy for calls to Kiro.",
  "settings.about.models": "Rules over the model names clients ask for. A change clears the cache of resolved names.",
  "settings.about.compression": "Summarise older turns of long conversations to stay within the context window.",
  "settings.about.console": "What everyone signed in to this console sees.",
  "settings.about.log": "What the request log keeps, and for how long.",
  "settings.about.server": "Limits on the clients calling the gateway.",
  "settings.about.alerts": "Webhooks told when a credential is disabled, runs out of quota, or no credential can serve.",
  "settings.about.proxies": "Outbound proxies for upstream calls. A proxy that fails rests, and the next call takes another.",
  "settings.about.groups": "Named subsets of credentials: a client key bound to a group is served by its credentials only.",
  "settings.about.other": "Settings of the {name} group.",
  "settings.origin.default": "Default",
  "settings.origin.file": "Config file",
  "settings.origin.env": "Environment",
  "settings.origin.flag": "Command line",
  "settings.origin.runtime": "Set here",
  "settings.origin.label": "Where the value comes from",
  "settings.replaces": "Replaces {value} from {origin}",
  "settings.default_is": "Default: {value}",
  "settings.empty_value": "none",
  "settings.reset": "Reset",
  "settings.reset_label": "Reset {key} to its configured value",
  "settings.reset_done": "{key} is back to its configured value.",
  "settings.reset_title": "Reset this setting?",
  "settings.reset_text": "{key} goes back to {value} ({origin}).",
  "settings.save": "Save changes",
  "settings.discard": "Discard",
  "settings.saved": "Saved: {keys}",
  "settings.unsaved": "{count} unsaved change(s)",
  "settings.unsaved_dot": "unsaved changes",
  "settings.no_changes": "No changes",
  "settings.not_saved": "Nothing was saved: {message}",
  "settings.read_only": "Read-only: {why}",
  "settings.read_only_default": "this value is fixed where kirogate was started",
  "settings.masked": "The password is hidden. Type the whole URL again to change it.",
  "settings.seconds_hint": "Seconds, or a duration such as 90s, 5m, 1h30m.",
  "settings.list_hint": "One per line.",
  "settings.table_hint": "One per line: name = target.",
  "settings.table_line": "Line {line}: write name = target.",
  "settings.empty_resets": "Leave it empty to go back to the configured value.",
  "settings.announcement_hint": "Shown at the top of every console page for everyone signed in. Leave it empty to remove it.",
  "settings.preview": "Preview",
  "settings.example": "e.g. {value}",
  "settings.on": "On",
  "settings.off": "Off",
  "settings.duration": "= {text}",
  "settings.unit.d": "{n} d",
  "settings.unit.h": "{n} h",
  "settings.unit.min": "{n} min",
  "settings.unit.s": "{n} s",
  "settings.load_failed": "The settings could not be loaded.",
  "settings.none": "The gateway lists no runtime settings.",
  "settings.resolve.title": "Try a model name",
  "settings.resolve.label": "Model name",
  "settings.resolve.submit": "Resolve",
  "settings.resolve.result": "{name} → {target}",
  "settings.resolve.via": "decided by: {via}",
  "settings.resolve.rule": "rule {rule}",
  "settings.resolve.thinking": "thinking",
  "settings.resolve.hidden": "hidden from /v1/models",
  "settings.resolve.unserved": "no credential's plan serves it",
  "settings.resolve.none": "Nothing serves {name}: a client asking for it gets a 404.",
  "settings.resolve.hint": "Resolves with the rules in force (save first to try a change).",
  "settings.models.count": "{count} public names, {hidden} hidden",
  "settings.via.forced": "forced model",
  "settings.via.override": "override",
  "settings.via.pattern": "override pattern",
  "settings.via.alias": "alias",
  "settings.via.builtin": "built-in table",
  "settings.via.fallback": "fallback",
  "settings.store_needed": "This gateway has no store, so it cannot keep these.",
  "settings.col.name": "Name",
  "settings.col.format": "Format",
  "settings.col.url": "URL",
  "settings.col.events": "Events",
  "settings.col.enabled": "Enabled",
  "settings.col.actions": "Actions",
  "settings.col.proxy": "Proxy",
  "settings.col.state": "State",
  "settings.col.failures": "Failures",
  "settings.col.uses": "Uses",
  "settings.col.credentials": "Credentials",
  "settings.col.description": "Description",
  "settings.col.members": "Members",
  "settings.col.created": "Created",
  "settings.test": "Test",
  "settings.delete": "Delete",
  "settings.cancel": "Cancel",
  "settings.create": "Add",
  "settings.all_events": "All events",
  "settings.alerts.add": "Add webhook",
  "settings.alerts.empty": "No webhooks yet",
  "settings.alerts.empty_text": "Add one to hear about disabled credentials, spent quota and limits before your users do.",
  "settings.alerts.name": "Name",
  "settings.alerts.format": "Format",
  "settings.alerts.url": "Webhook URL",
  "settings.alerts.url_hint": "Stored encrypted and shown masked afterwards.",
  "settings.alerts.events": "Events",
  "settings.alerts.enable": "Enable webhook {name}",
  "settings.alerts.test_label": "Send a test alert to {name}",
  "settings.alerts.delete_label": "Delete webhook {name}",
  "settings.alerts.created": "Webhook {name} added.",
  "settings.alerts.deleted": "Webhook {name} deleted.",
  "settings.alerts.delete_title": "Delete this webhook?",
  "settings.alerts.delete_text": "{name} will get no more alerts.",
  "settings.alerts.delivered": "Test alert delivered to {name} (HTTP {status}).",
  "settings.alerts.failed": "Test alert not delivered to {name}: {error}",
  "settings.alerts.enabled": "{name} is on.",
  "settings.alerts.disabled": "{name} is off.",
  "settings.format.generic": "Generic JSON",
  "settings.format.slack": "Slack",
  "settings.format.feishu": "Feishu / Lark",
  "settings.format.dingtalk": "DingTalk",
  "settings.event.credential_disabled": "Credential disabled",
  "settings.event.quota_exhausted": "Quota exhausted",
  "settings.event.refresh_failing": "Refresh failing",
  "settings.event.all_unusable": "No usable credential",
  "settings.event.key_limit": "Key limit reached",
  "settings.proxies.add": "Add proxy",
  "settings.proxies.pool": "Proxy pool",
  "settings.proxies.empty": "No proxies yet",
  "settings.proxies.empty_text": "Add one to route upstream calls through it; without any, the global proxy or a direct connection is used.",
  "settings.proxies.url": "Proxy URL",
  "settings.proxies.url_hint": "http://, https://, socks5:// or socks5h:// with a host and a port.",
  "settings.proxies.username": "Username (optional)",
  "settings.proxies.password": "Password (optional)",
  "settings.proxies.label": "Label (optional)",
  "settings.proxies.ready": "Ready",
  "settings.proxies.off": "Off",
  "settings.proxies.resting": "Resting {time}",
  "settings.proxies.enable": "Use proxy {name}",
  "settings.proxies.test_label": "Test proxy {name}",
  "settings.proxies.delete_label": "Delete proxy {name}",
  "settings.proxies.created": "Proxy {name} added.",
  "settings.proxies.deleted": "Proxy {name} deleted.",
  "settings.proxies.delete_title": "Delete this proxy?",
  "settings.proxies.delete_text": "Credentials assigned to {name} go back to the pool's strategy.",
  "settings.proxies.reached": "{name} reached the upstream in {ms} ms (HTTP {status}).",
  "settings.proxies.unreached": "{name} did not reach the upstream: {error}",
  "settings.proxies.enabled": "{name} is in use.",
  "settings.proxies.disabled": "{name} is off.",
  "settings.groups.add": "Add group",
  "settings.groups.empty": "No credential groups yet",
  "settings.groups.empty_text": "Create one, add credentials to it, then bind client keys to it on the API keys page.",
  "settings.groups.name": "Name",
  "settings.groups.name_hint": "Letters, digits, dot, dash or underscore; it cannot be renamed later.",
  "settings.groups.description": "Description (optional)",
  "settings.groups.members": "Members",
  "settings.groups.members_label": "Members of group {name}",
  "settings.groups.members_title": "Credentials of {name}",
  "settings.groups.no_members": "none yet",
  "settings.groups.no_credentials": "There are no credentials to add yet.",
  "settings.groups.delete_label": "Delete group {name}",
  "settings.groups.created": "Group {name} created.",
  "settings.groups.deleted": "Group {name} deleted.",
  "settings.groups.saved": "Members of {name} saved.",
  "settings.groups.delete_title": "Delete this group?",
  "settings.groups.delete_text": "Its credentials stay. Keys still bound to {name} get a 503 until they are bound elsewhere.",
};

const zh = {
  "settings.subtitle": "修改从下一个请求开始生效，重启后仍然保留，并在一秒内同步到所有实例。",
  "settings.nav": "设置分区",
  "settings.nav.runtime": "运行时设置",
  "settings.nav.resources": "运维资源",
  "settings.section.pool": "号池",
  "settings.section.upstream": "上游",
  "settings.section.models": "模型",
  "settings.section.compression": "压缩",
  "settings.section.console": "控制台",
  "settings.section.log": "请求日志",
  "settings.section.server": "服务器",
  "settings.section.alerts": "告警",
  "settings.section.proxies": "代理",
  "settings.section.groups": "凭证分组",
  "settings.section.proxy": "轮换",
  "settings.about.proxy": "没有指定代理的凭证如何从代理池中挑选代理。",
  "settings.about.pool": "请求如何挑选凭证、重试多少次，以及凭证休息多久。",
  "settings.about.upstream": "调用 Kiro 的超时时间和全局代理。",
  "settings.about.models": "作用于客户端请求的模型名的规则。修改后会清空已解析名称的缓存。",
  "settings.about.compression": "把长对话中较早的轮次总结成摘要，以免超出上下文窗口。",
  "settings.about.console": "所有登录本控制台的人都会看到的内容。",
  "settings.about.log": "请求日志记录什么、保留多久。",
  "settings.about.server": "对调用网关的客户端的限制。",
  "settings.about.alerts": "当凭证被停用、额度用尽或没有可用凭证时通知的 Webhook。",
  "settings.about.proxies": "上游调用使用的出站代理。失败的代理会休息一会儿，下一次调用换用另一个。",
  "settings.about.groups": "凭证的命名子集：绑定到分组的客户端密钥只由该分组的凭证服务。",
  "settings.about.other": "{name} 分组的设置。",
  "settings.origin.default": "默认值",
  "settings.origin.file": "配置文件",
  "settings.origin.env": "环境变量",
  "settings.origin.flag": "命令行",
  "settings.origin.runtime": "在此设置",
  "settings.origin.label": "取值来源",
  "settings.replaces": "覆盖了来自{origin}的 {value}",
  "settings.default_is": "默认值：{value}",
  "settings.empty_value": "无",
  "settings.reset": "重置",
  "settings.reset_label": "把 {key} 重置为配置的值",
  "settings.reset_done": "{key} 已恢复为配置的值。",
  "settings.reset_title": "重置这项设置？",
  "settings.reset_text": "{key} 将恢复为 {value}（{origin}）。",
  "settings.save": "保存修改",
  "settings.discard": "放弃",
  "settings.saved": "已保存：{keys}",
  "settings.unsaved": "{count} 项未保存的修改",
  "settings.unsaved_dot": "有未保存的修改",
  "settings.no_changes": "没有修改",
  "settings.not_saved": "没有保存任何内容：{message}",
  "settings.read_only": "只读：{why}",
  "settings.read_only_default": "这个值在 kirogate 启动时已固定",
  "settings.masked": "密码已隐藏。要修改，请重新输入完整的 URL。",
  "settings.seconds_hint": "秒数，或时长，例如 90s、5m、1h30m。",
  "settings.list_hint": "每行一个。",
  "settings.table_hint": "每行一条：名称 = 目标。",
  "settings.table_line": "第 {line} 行：请写成 名称 = 目标。",
  "settings.empty_resets": "留空即恢复为配置的值。",
  "settings.announcement_hint": "显示在每个控制台页面的顶部，所有登录的人都能看到。留空即移除。",
  "settings.preview": "预览",
  "settings.example": "例如 {value}",
  "settings.on": "开",
  "settings.off": "关",
  "settings.duration": "= {text}",
  "settings.unit.d": "{n} 天",
  "settings.unit.h": "{n} 小时",
  "settings.unit.min": "{n} 分钟",
  "settings.unit.s": "{n} 秒",
  "settings.load_failed": "无法加载设置。",
  "settings.none": "网关没有列出任何运行时设置。",
  "settings.resolve.title": "试一个模型名",
  "settings.resolve.label": "模型名",
  "settings.resolve.submit": "解析",
  "settings.resolve.result": "{name} → {target}",
  "settings.resolve.via": "决定于：{via}",
  "settings.resolve.rule": "规则 {rule}",
  "settings.resolve.thinking": "思考模式",
  "settings.resolve.hidden": "不在 /v1/models 中列出",
  "settings.resolve.unserved": "没有凭证的套餐提供它",
  "settings.resolve.none": "没有模型对应 {name}：请求它的客户端会收到 404。",
  "settings.resolve.hint": "按当前生效的规则解析（要试新的修改，请先保存）。",
  "settings.models.count": "{count} 个公开名称，{hidden} 个隐藏",
  "settings.via.forced": "强制模型",
  "settings.via.override": "覆盖规则",
  "settings.via.pattern": "覆盖模式",
  "settings.via.alias": "别名",
  "settings.via.builtin": "内置映射表",
  "settings.via.fallback": "兜底模型",
  "settings.store_needed": "这个网关没有数据库，无法保存这些内容。",
  "settings.col.name": "名称",
  "settings.col.format": "格式",
  "settings.col.url": "URL",
  "settings.col.events": "事件",
  "settings.col.enabled": "启用",
  "settings.col.actions": "操作",
  "settings.col.proxy": "代理",
  "settings.col.state": "状态",
  "settings.col.failures": "失败",
  "settings.col.uses": "使用次数",
  "settings.col.credentials": "凭证",
  "settings.col.description": "说明",
  "settings.col.members": "成员",
  "settings.col.created": "创建时间",
  "settings.test": "测试",
  "settings.delete": "删除",
  "settings.cancel": "取消",
  "settings.create": "添加",
  "settings.all_events": "全部事件",
  "settings.alerts.add": "添加 Webhook",
  "settings.alerts.empty": "还没有 Webhook",
  "settings.alerts.empty_text": "添加一个，在用户察觉之前就知道凭证被停用、额度用尽或达到限制。",
  "settings.alerts.name": "名称",
  "settings.alerts.format": "格式",
  "settings.alerts.url": "Webhook URL",
  "settings.alerts.url_hint": "加密保存，之后只显示打码后的地址。",
  "settings.alerts.events": "事件",
  "settings.alerts.enable": "启用 Webhook {name}",
  "settings.alerts.test_label": "向 {name} 发送测试告警",
  "settings.alerts.delete_label": "删除 Webhook {name}",
  "settings.alerts.created": "已添加 Webhook {name}。",
  "settings.alerts.deleted": "已删除 Webhook {name}。",
  "settings.alerts.delete_title": "删除这个 Webhook？",
  "settings.alerts.delete_text": "{name} 将不再收到告警。",
  "settings.alerts.delivered": "测试告警已送达 {name}（HTTP {status}）。",
  "settings.alerts.failed": "测试告警未能送达 {name}：{error}",
  "settings.alerts.enabled": "{name} 已启用。",
  "settings.alerts.disabled": "{name} 已停用。",
  "settings.format.generic": "通用 JSON",
  "settings.format.slack": "Slack",
  "settings.format.feishu": "飞书 / Lark",
  "settings.format.dingtalk": "钉钉",
  "settings.event.credential_disabled": "凭证被停用",
  "settings.event.quota_exhausted": "额度用尽",
  "settings.event.refresh_failing": "刷新失败",
  "settings.event.all_unusable": "没有可用凭证",
  "settings.event.key_limit": "密钥达到限制",
  "settings.proxies.add": "添加代理",
  "settings.proxies.pool": "代理池",
  "settings.proxies.empty": "还没有代理",
  "settings.proxies.empty_text": "添加一个，让上游调用经过它；没有代理时使用全局代理或直连。",
  "settings.proxies.url": "代理 URL",
  "settings.proxies.url_hint": "http://、https://、socks5:// 或 socks5h://，带主机和端口。",
  "settings.proxies.username": "用户名（可选）",
  "settings.proxies.password": "密码（可选）",
  "settings.proxies.label": "标签（可选）",
  "settings.proxies.ready": "可用",
  "settings.proxies.off": "已停用",
  "settings.proxies.resting": "休息中，还剩 {time}",
  "settings.proxies.enable": "使用代理 {name}",
  "settings.proxies.test_label": "测试代理 {name}",
  "settings.proxies.delete_label": "删除代理 {name}",
  "settings.proxies.created": "已添加代理 {name}。",
  "settings.proxies.deleted": "已删除代理 {name}。",
  "settings.proxies.delete_title": "删除这个代理？",
  "settings.proxies.delete_text": "指定给 {name} 的凭证将回到号池的代理策略。",
  "settings.proxies.reached": "{name} 在 {ms} 毫秒内连到了上游（HTTP {status}）。",
  "settings.proxies.unreached": "{name} 没能连到上游：{error}",
  "settings.proxies.enabled": "{name} 已启用。",
  "settings.proxies.disabled": "{name} 已停用。",
  "settings.groups.add": "添加分组",
  "settings.groups.empty": "还没有凭证分组",
  "settings.groups.empty_text": "创建一个分组并加入凭证，然后在 API 密钥页面把客户端密钥绑定到它。",
  "settings.groups.name": "名称",
  "settings.groups.name_hint": "字母、数字、点、短横线或下划线；创建后不能改名。",
  "settings.groups.description": "说明（可选）",
  "settings.groups.members": "成员",
  "settings.groups.members_label": "分组 {name} 的成员",
  "settings.groups.members_title": "{name} 的凭证",
  "settings.groups.no_members": "暂无",
  "settings.groups.no_credentials": "还没有可以加入的凭证。",
  "settings.groups.delete_label": "删除分组 {name}",
  "settings.groups.created": "已创建分组 {name}。",
  "settings.groups.deleted": "已删除分组 {name}。",
  "settings.groups.saved": "已保存 {name} 的成员。",
  "settings.groups.delete_title": "删除这个分组？",
  "settings.groups.delete_text": "其中的凭证会保留。仍绑定到 {name} 的密钥在改绑之前会收到 503。",
};

for (const [key, [label, zhLabel, zhHelp, help]] of Object.entries(KNOWN)) {
  en[`settings.label.${key}`] = label;
  en[`settings.help.${key}`] = help;
  zh[`settings.label.${key}`] = zhLabel;
  zh[`settings.help.${key}`] = zhHelp;
}
for (const [value, [enText, zhText]] of Object.entries(CHOICES)) {
  en[`settings.choice.${value}`] = enText;
  zh[`settings.choice.${value}`] = zhText;
}
register({ en, "zh-CN": zh });

// ---- helpers

const cx = (...names) => names.filter(Boolean).join(" ");

// "pool.max_attempts" -> "Max attempts": a key's words, for a setting this page does not know.
function words(key) {
  const last = key.split(".").pop().replace(/_/g, " ");
  return last.charAt(0).toUpperCase() + last.slice(1);
}

const labelOf = (row) => (row.key in KNOWN ? t(`settings.label.${row.key}`) : words(row.key));

// The help in the chosen language; the API's own description for a key this page lacks.
const helpOf = (row) => (row.key in KNOWN ? t(`settings.help.${row.key}`) : row.description);

const choiceLabel = (value) => (value in CHOICES ? t(`settings.choice.${value}`) : value);
const TITLED = [...SECTIONS, ...RESOURCES, ...Object.keys(FOLDED)];
const sectionTitle = (name) => (TITLED.includes(name) ? t(`settings.section.${name}`) : words(name));
const sectionAbout = (name) => (TITLED.includes(name) ? t(`settings.about.${name}`) : t("settings.about.other", { name }));
const originLabel = (origin) => (["default", "file", "env", "flag", "runtime"].includes(origin) ? t(`settings.origin.${origin}`) : origin);
const originTone = (origin) => (origin === "runtime" ? "info" : origin === "default" ? "muted" : "warn");

// 5400 -> "1 h 30 min": a duration in words beside a seconds field.
function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 60) return null;
  const parts = [];
  let rest = Math.round(seconds);
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]]) {
    const count = Math.floor(rest / size);
    if (count) parts.push(t(`settings.unit.${unit}`, { n: fmtNumber(count) }));
    rest -= count * size;
  }
  return parts.join(" ");
}

// A value as the text its field holds (tables as name = target lines, lists one per line).
function toDraft(row) {
  const value = row.value;
  switch (row.type) {
    case "boolean":
      return Boolean(value);
    case "table":
      return Object.entries(value || {}).map(([name, target]) => `${name} = ${target}`).join("\n");
    case "list":
      return (value || []).join("\n");
    default:
      return value === null || value === undefined ? "" : String(value);
  }
}

// A value in words for a badge or a confirmation ("none" when empty).
function shown(row, value) {
  if (value === null || value === undefined || value === "") return t("settings.empty_value");
  if (row.type === "boolean") return t(value ? "settings.on" : "settings.off");
  if (row.type === "table") {
    const entries = Object.entries(value);
    return entries.length ? entries.map(([name, target]) => `${name} = ${target}`).join(", ") : t("settings.empty_value");
  }
  if (Array.isArray(value)) return value.length ? value.join(", ") : t("settings.empty_value");
  if (row.type === "choice") return choiceLabel(value);
  if (row.type === "seconds") return duration(value) || t("settings.unit.s", { n: fmtNumber(value, 3) });
  return typeof value === "number" ? fmtNumber(value, 3) : String(value);
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const UNITS = { d: 86400, h: 3600, m: 60, s: 1 };

// "90" or "1h30m" -> seconds (null for text the API will judge), for the words beside the field.
function seconds(text) {
  const value = String(text).trim().toLowerCase();
  if (NUMERIC.test(value)) return Number(value);
  if (!/^(\d+(\.\d+)?\s*[dhms]\s*)+$/.test(value)) return null;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)\s*([dhms])/g)) total += Number(amount) * UNITS[unit];
  return total;
}

// The field's text as the JSON the API takes, or { error } for a line it cannot read.
// Empty text sends null: the key goes back to its configured value (the API refuses ""),
// except the announcement, where blank takes the notice down even if the config file sets one.
function fromDraft(row, draft) {
  if (row.type === "boolean") return { value: draft };
  const text = String(draft);
  if (row.type === "list") return { value: text.split("\n").map((line) => line.trim()).filter(Boolean) };
  if (row.type === "table") {
    const table = {};
    const lines = text.split("\n");
    for (let index = 0; index < lines.length; index += 1) {
      const line = lines[index].trim();
      if (!line || line.startsWith("#")) continue;
      const at = line.indexOf("=");
      if (at <= 0 || !line.slice(at + 1).trim()) return { error: t("settings.table_line", { line: index + 1 }) };
      table[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return { value: table };
  }
  const trimmed = text.trim();
  if (!trimmed) return { value: row.key === "console.announcement" ? "" : null };
  if (["integer", "number", "seconds", "bytes"].includes(row.type) && NUMERIC.test(trimmed)) return { value: Number(trimmed) };
  return { value: trimmed };
}

// "setting 'pool.max_attempts': -1 is too small (...)" -> ["pool.max_attempts", "-1 is too small (...)"]
function keyedError(message) {
  const found = /^setting '([^']+)':?\s*(.*)$/s.exec(message || "");
  return found ? [found[1], found[2] || message] : [null, message];
}

// Groups of the listing, in SECTIONS' order, then any the API adds.
function sectionsOf(rows) {
  const present = [];
  for (const row of rows) {
    const name = FOLDED[row.group] ? null : row.group;
    if (name && !present.includes(name)) present.push(name);
  }
  return [...SECTIONS.filter((name) => present.includes(name)), ...present.filter((name) => !SECTIONS.includes(name))];
}

const rowsOf = (rows, group) => rows.filter((row) => row.group === group);

// ---- the section navigation: a vertical tab list on a wide screen, a scrolling row on a phone

function SectionNav({ runtime, value, onChange, dirty }) {
  const all = [...runtime, ...RESOURCES];
  const refs = useRef({});
  const list = useRef(null);
  // On a phone the list scrolls sideways: bring the chosen section into view (not the page).
  useEffect(() => {
    const reveal = () => {
      const nav = list.current;
      const tab = refs.current[value];
      if (!nav || !tab || nav.scrollWidth <= nav.clientWidth) return;
      const left = tab.offsetLeft - nav.offsetLeft;
      if (left < nav.scrollLeft || left + tab.offsetWidth > nav.scrollLeft + nav.clientWidth) nav.scrollLeft = left - 16;
    };
    reveal();
    window.addEventListener("resize", reveal);
    return () => window.removeEventListener("resize", reveal);
  }, [value]);
  function onKey(event) {
    const index = all.indexOf(value);
    const moves = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };
    let next = null;
    if (event.key in moves) next = all[(index + moves[event.key] + all.length) % all.length];
    if (event.key === "Home") next = all[0];
    if (event.key === "End") next = all[all.length - 1];
    if (next === null) return;
    event.preventDefault();
    onChange(next);
    requestAnimationFrame(() => refs.current[next]?.focus());
  }
  const item = (name) => html`<button type="button" role="tab" id=${"settings-tab-" + name} aria-controls="settings-panel"
    aria-selected=${name === value ? "true" : "false"} tabindex=${name === value ? 0 : -1}
    class=${cx("settings-tab", name === value && "active")} ref=${(node) => (refs.current[name] = node)}
    onClick=${() => onChange(name)} onKeyDown=${onKey}>
    <span>${sectionTitle(name)}</span>
    ${dirty.has(name) && html`<span class="settings-dot" title=${t("settings.unsaved_dot")}><span class="sr-only">${t("settings.unsaved_dot")}</span></span>`}
  </button>`;
  return html`<div class="settings-nav" role="tablist" ref=${list} aria-orientation="vertical" aria-label=${t("settings.nav")}>
    <div class="settings-nav-label" aria-hidden="true">${t("settings.nav.runtime")}</div>
    ${runtime.map(item)}
    <div class="settings-nav-label" aria-hidden="true">${t("settings.nav.resources")}</div>
    ${RESOURCES.map(item)}
  </div>`;
}

// ---- one runtime setting

function OriginLine({ row }) {
  return html`<div class="settings-origin">
    <${Badge} tone=${originTone(row.origin)}><span class="sr-only">${t("settings.origin.label")}: </span>${originLabel(row.origin)}<//>
    ${row.origin_detail && html`<span class="mono small muted">${row.origin_detail}</span>`}
    ${row.overrides && html`<span class="small muted">${t("settings.replaces", {
      value: shown(row, row.overrides.value),
      origin: originLabel(row.overrides.origin) + (row.overrides.origin_detail ? ` ${row.overrides.origin_detail}` : ""),
    })}</span>`}
  </div>`;
}

function Control({ row, ids, draft, onDraft, readOnly }) {
  const label = labelOf(row);
  const set = (event) => onDraft(event.target.value);
  switch (row.type) {
    case "boolean":
      return html`<div class="settings-switch">
        <${Switch} id=${ids.id} checked=${draft} onChange=${onDraft} label=${label} disabled=${readOnly} />
        <span class="small muted" aria-hidden="true">${t(draft ? "settings.on" : "settings.off")}</span>
      </div>`;
    case "choice":
      return html`<${Select} ...${ids} options=${row.choices.map((choice) => [choice, choiceLabel(choice)])}
        value=${draft} onChange=${onDraft} disabled=${readOnly} />`;
    case "table":
    case "list":
      return html`<${TextArea} ...${ids} class="input textarea mono" rows="4" spellcheck="false" value=${draft}
        onInput=${set} readOnly=${readOnly} placeholder=${PLACEHOLDERS[row.key] || ""} />`;
    case "integer":
      return html`<div class="settings-number"><${Input} ...${ids} type="number" inputmode="numeric" step="1"
        min=${row.minimum} max=${row.maximum} value=${draft} onInput=${set} readOnly=${readOnly} /></div>`;
    case "seconds": {
      const spelled = duration(seconds(draft));
      return html`<div class="settings-number">
        <${Input} ...${ids} type="text" inputmode="decimal" spellcheck="false" value=${draft} onInput=${set} readOnly=${readOnly} />
        ${spelled && html`<span class="small muted">${t("settings.duration", { text: spelled })}</span>`}
      </div>`;
    }
    default:
      if (row.key === "console.announcement") {
        return html`<${TextArea} ...${ids} rows="2" value=${draft} onInput=${set} readOnly=${readOnly} />`;
      }
      return html`<${Input} ...${ids} type="text" spellcheck="false" value=${draft} onInput=${set} readOnly=${readOnly}
        inputmode=${["number", "bytes"].includes(row.type) ? "decimal" : undefined}
        placeholder=${row.key in PLACEHOLDERS ? t("settings.example", { value: PLACEHOLDERS[row.key] }) : undefined} />`;
  }
}

function hintOf(row) {
  if (row.type === "seconds") return t("settings.seconds_hint");
  if (row.type === "list") return t("settings.list_hint");
  if (row.type === "table") return t("settings.table_hint");
  if (row.key === "console.announcement") return t("settings.announcement_hint");
  if (["text", "url"].includes(row.type)) return t("settings.empty_resets");
  return null;
}

function SettingRow({ row, draft, dirty, error, onDraft, onReset }) {
  const id = useId();
  // The API may one day say a setting is fixed where kirogate started: drawn, not editable.
  const readOnly = row.changeable === false || row.read_only === true;
  const masked = row.type === "url" && typeof row.value === "string" && row.value.includes("***");
  const hint = [hintOf(row), masked && t("settings.masked")].filter(Boolean).join(" ");
  return html`<div class=${cx("settings-row", dirty && "dirty", error && "has-error")} data-key=${row.key}>
    <div class="settings-about">
      <label class="settings-label" for=${id}>${labelOf(row)}</label>
      <div class="mono small settings-key">${row.key}</div>
      <p class="muted small settings-help">${helpOf(row)}</p>
      <${OriginLine} row=${row} />
    </div>
    <div class="settings-control">
      <div class=${cx("field", error && "field-error")}>
        <${Control} row=${row} draft=${draft} onDraft=${onDraft} readOnly=${readOnly}
          ids=${{ id, "aria-describedby": [hint && id + "-hint", error && id + "-error"].filter(Boolean).join(" ") || undefined, "aria-invalid": error ? "true" : undefined }} />
        ${error && html`<p class="error-text" id=${id + "-error"} role="alert">${error}</p>`}
        ${hint && html`<p class="hint" id=${id + "-hint"}>${hint}</p>`}
        ${readOnly && html`<p class="hint">${t("settings.read_only", { why: row.read_only_reason || t("settings.read_only_default") })}</p>`}
      </div>
      <div class="settings-row-foot">
        <span class="small muted">${t("settings.default_is", { value: shown(row, row.default) })}</span>
        ${row.origin === "runtime" && !readOnly && html`<${Button} size="sm" variant="ghost" icon="refresh"
          aria-label=${t("settings.reset_label", { key: row.key })} onClick=${onReset}>${t("settings.reset")}<//>`}
      </div>
      ${row.key === "console.announcement" && String(draft).trim() && html`<div class="settings-preview" aria-label=${t("settings.preview")} role="note">
        <${Icon} name="info" /><span>${String(draft).trim()}</span></div>`}
    </div>
  </div>`;
}

// ---- a section of runtime settings, saved on its own (only the keys that changed)

function SettingsSection({ name, rows, drafts, setDrafts, onSaved, extra }) {
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const changed = rows.filter((row) => row.key in drafts && drafts[row.key] !== toDraft(row));

  function draftOf(row) {
    return row.key in drafts ? drafts[row.key] : toDraft(row);
  }
  function edit(key, value) {
    setDrafts((previous) => ({ ...previous, [key]: value }));
    setErrors((previous) => ({ ...previous, [key]: undefined }));
  }
  function discard() {
    setDrafts((previous) => Object.fromEntries(Object.entries(previous).filter(([key]) => !rows.some((row) => row.key === key))));
    setErrors({});
    setError(null);
  }
  async function save(event) {
    event.preventDefault();
    const body = {};
    const problems = {};
    for (const row of changed) {
      const parsed = fromDraft(row, drafts[row.key]);
      if (parsed.error) problems[row.key] = parsed.error;
      else body[row.key] = parsed.value;
    }
    setErrors(problems);
    setError(null);
    if (Object.keys(problems).length || !changed.length) return;
    setBusy(true);
    try {
      const answer = await api.patch("/api/admin/settings", body);
      onSaved(answer.settings, Object.keys(body));
      toast(t("settings.saved", { keys: answer.changed.join(", ") }));
    } catch (failure) {
      const [key, message] = failure instanceof ApiError ? keyedError(failure.message) : [null, null];
      if (key && rows.some((row) => row.key === key)) setErrors({ [key]: message });
      else setError(failure);
    } finally {
      setBusy(false);
    }
  }
  async function reset(row) {
    const configured = row.overrides ? row.overrides : { value: row.default, origin: "default", origin_detail: "" };
    const ok = await confirmAction({
      title: t("settings.reset_title"),
      text: t("settings.reset_text", { key: labelOf(row), value: shown(row, configured.value), origin: originLabel(configured.origin) }),
      confirm: t("settings.reset"),
      danger: false,
    });
    if (!ok) return;
    await attempt(async () => {
      const answer = await api.del(`/api/admin/settings/${encodeURIComponent(row.key)}`);
      onSaved(answer.settings, [row.key]);
    }, t("settings.reset_done", { key: labelOf(row) }));
  }
  return html`<form class="card settings-card" onSubmit=${save} noValidate aria-labelledby=${"settings-h-" + name}>
    <div class="card-head">
      <div><h2 id=${"settings-h-" + name}>${sectionTitle(name)}</h2><p class="muted small">${sectionAbout(name)}</p></div>
    </div>
    ${error && html`<${ErrorNote} error=${new Error(t("settings.not_saved", { message: plainError(error) }))} />`}
    <div class="settings-rows">
      ${rows.map((row) => html`<${SettingRow} key=${row.key} row=${row} draft=${draftOf(row)}
        dirty=${changed.includes(row)} error=${errors[row.key]}
        onDraft=${(value) => edit(row.key, value)} onReset=${() => reset(row)} />`)}
    </div>
    <div class=${cx("settings-savebar", changed.length && "active")}>
      <span class="small muted" aria-live="polite">${changed.length ? t("settings.unsaved", { count: changed.length }) : t("settings.no_changes")}</span>
      <div class="actions">
        ${changed.length > 0 && html`<${Button} onClick=${discard}>${t("settings.discard")}<//>`}
        <${Button} type="submit" variant="primary" busy=${busy} disabled=${!changed.length}>${t("settings.save")}<//>
      </div>
    </div>
    ${extra}
  </form>`;
}

// ---- models: try a name against the rules in force

function ModelResolver() {
  const [name, setName] = useState("");
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const summary = useAsync(() => api.get("/api/admin/models"), []);
  async function resolve(event) {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    try {
      setResult({ found: await api.get("/api/admin/models/resolve", { name: name.trim() }) });
    } catch (failure) {
      setResult(failure instanceof ApiError && failure.status === 404 ? { missing: name.trim() } : { error: failure });
    } finally {
      setBusy(false);
    }
  }
  const models = summary.data?.models || [];
  const found = result?.found;
  const via = found && (["forced", "override", "pattern", "alias", "builtin", "fallback"].includes(found.via) ? t(`settings.via.${found.via}`) : found.via);
  return html`<${Card} title=${t("settings.resolve.title")} className="settings-resolver"
    subtitle=${models.length ? t("settings.models.count", { count: fmtNumber(models.length), hidden: fmtNumber(models.filter((model) => model.hidden).length) }) : null}>
    <form class="toolbar" onSubmit=${resolve}>
      <${Field} label=${t("settings.resolve.label")} className="settings-grow">
        ${(ids) => html`<${Input} ...${ids} value=${name} placeholder="gpt-4o" spellcheck="false" onInput=${(event) => setName(event.target.value)} />`}
      <//>
      <${Button} type="submit" icon="search" busy=${busy}>${t("settings.resolve.submit")}<//>
    </form>
    <p class="small muted">${t("settings.resolve.hint")}</p>
    <div aria-live="polite">
      ${found && html`<div class="settings-resolved">
        <span class="mono">${t("settings.resolve.result", { name: found.name, target: found.upstream_id })}</span>
        <${Badge} tone="info">${t("settings.resolve.via", { via })}<//>
        ${found.rule && html`<${Badge}>${t("settings.resolve.rule", { rule: found.rule })}<//>`}
        ${found.thinking && html`<${Badge}>${t("settings.resolve.thinking")}<//>`}
        ${found.hidden && html`<${Badge} tone="warn">${t("settings.resolve.hidden")}<//>`}
        ${found.served === false && html`<${Badge} tone="bad">${t("settings.resolve.unserved")}<//>`}
      </div>`}
      ${result?.missing && html`<${Note} tone="warn">${t("settings.resolve.none", { name: result.missing })}<//>`}
      ${result?.error && html`<${ErrorNote} error=${result.error} />`}
    </div>
  <//>`;
}

// ---- resources: shared pieces

// A resource list's loading, store-less and error states, or its content.
function Resource({ state, children }) {
  if (state.loading && state.data === undefined) return html`<${Loading} />`;
  if (state.error instanceof ApiError && state.error.status === 404) return html`<${Note}>${t("settings.store_needed")}<//>`;
  if (state.error) return html`<${ErrorNote} error=${state.error} retry=${state.reload} />`;
  return children();
}

// A create dialog: a form whose submit runs `onSubmit` and shows its error in plain words.
function CreateDialog({ open, title, onClose, onSubmit, children }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const formId = useId();
  useEffect(() => setError(null), [open]);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit();
      onClose();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  return html`<${Modal} open=${open} title=${title} onClose=${onClose}
    footer=${html`<${Button} onClick=${onClose}>${t("settings.cancel")}<//>
      <${Button} type="submit" form=${formId} variant="primary" busy=${busy}>${t("settings.create")}<//>`}>
    <form id=${formId} class="stack" onSubmit=${submit} noValidate>
      ${error && html`<${ErrorNote} error=${error} />`}
      ${children}
    </form>
  <//>`;
}

// ---- alerts

function Alerts() {
  const state = useAsync(() => api.get("/api/admin/alerts/webhooks"), []);
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ name: "", format: "generic", url: "", events: [...EVENTS] });
  const formats = state.data?.formats || ["generic", "slack", "feishu", "dingtalk"];
  const events = state.data?.events || EVENTS;
  const formatLabel = (format) => (["generic", "slack", "feishu", "dingtalk"].includes(format) ? t(`settings.format.${format}`) : format);
  const eventLabel = (event) => (EVENTS.includes(event) ? t(`settings.event.${event}`) : event);
  function toggleEvent(event, on) {
    setForm((previous) => ({ ...previous, events: on ? [...previous.events, event] : previous.events.filter((item) => item !== event) }));
  }
  async function create() {
    await api.post("/api/admin/alerts/webhooks", { ...form, name: form.name.trim(), url: form.url.trim() });
    toast(t("settings.alerts.created", { name: form.name.trim() }));
    setForm({ name: "", format: "generic", url: "", events: [...events] });
    state.reload();
  }
  async function test(hook) {
    await attempt(async () => {
      const answer = await api.post(`/api/admin/alerts/webhooks/${hook.id}/test`, {});
      if (answer.delivered) toast(t("settings.alerts.delivered", { name: hook.name, status: answer.status }));
      else toast(t("settings.alerts.failed", { name: hook.name, error: answer.error || `HTTP ${answer.status}` }), "bad");
    });
  }
  async function toggle(hook, enabled) {
    const ok = await attempt(() => api.patch(`/api/admin/alerts/webhooks/${hook.id}`, { enabled }),
      t(enabled ? "settings.alerts.enabled" : "settings.alerts.disabled", { name: hook.name }));
    if (ok) state.reload();
  }
  async function remove(hook) {
    const ok = await confirmAction({ title: t("settings.alerts.delete_title"), text: t("settings.alerts.delete_text", { name: hook.name }), confirm: t("settings.delete") });
    if (ok && (await attempt(() => api.del(`/api/admin/alerts/webhooks/${hook.id}`), t("settings.alerts.deleted", { name: hook.name })))) state.reload();
  }
  const addButton = html`<${Button} variant="primary" icon="plus" onClick=${() => setOpen(true)}>${t("settings.alerts.add")}<//>`;
  const columns = [
    { key: "name", label: t("settings.col.name"), render: (hook) => html`<strong>${hook.name}</strong><div class="mono small muted settings-url">${hook.url}</div>` },
    { key: "format", label: t("settings.col.format"), render: (hook) => formatLabel(hook.format) },
    { key: "events", label: t("settings.col.events"), render: (hook) => hook.events.length === events.length
      ? html`<${Badge} tone="info">${t("settings.all_events")}<//>`
      : html`<div class="settings-badges">${hook.events.map((event) => html`<${Badge}>${eventLabel(event)}<//>`)}</div>` },
    { key: "enabled", label: t("settings.col.enabled"), render: (hook) => html`<${Switch} checked=${hook.enabled}
      label=${t("settings.alerts.enable", { name: hook.name })} onChange=${(on) => toggle(hook, on)} />` },
    { key: "actions", label: t("settings.col.actions"), align: "right", render: (hook) => html`<div class="settings-actions">
      <${Button} size="sm" icon="send" aria-label=${t("settings.alerts.test_label", { name: hook.name })} onClick=${() => test(hook)}>${t("settings.test")}<//>
      <${IconButton} icon="trash" label=${t("settings.alerts.delete_label", { name: hook.name })} onClick=${() => remove(hook)} />
    </div>` },
  ];
  return html`<${Card} title=${t("settings.section.alerts")} subtitle=${t("settings.about.alerts")} actions=${state.data?.webhooks?.length ? addButton : null}>
    <${Resource} state=${state}>${() => html`<${Table} columns=${columns} rows=${state.data.webhooks} caption=${t("settings.section.alerts")}
      empty=${html`<${Empty} icon="send" title=${t("settings.alerts.empty")} text=${t("settings.alerts.empty_text")} action=${addButton} />`} />`}<//>
    <${CreateDialog} open=${open} title=${t("settings.alerts.add")} onClose=${() => setOpen(false)} onSubmit=${create}>
      <${Field} label=${t("settings.alerts.name")}>
        ${(ids) => html`<${Input} ...${ids} value=${form.name} maxlength="200" placeholder="ops" onInput=${(event) => setForm({ ...form, name: event.target.value })} />`}
      <//>
      <${Field} label=${t("settings.alerts.format")}>
        ${(ids) => html`<${Select} ...${ids} options=${formats.map((format) => [format, formatLabel(format)])} value=${form.format}
          onChange=${(format) => setForm({ ...form, format })} />`}
      <//>
      <${Field} label=${t("settings.alerts.url")} hint=${t("settings.alerts.url_hint")}>
        ${(ids) => html`<${Input} ...${ids} type="url" value=${form.url} spellcheck="false" placeholder="https://hooks.slack.com/services/…"
          onInput=${(event) => setForm({ ...form, url: event.target.value })} />`}
      <//>
      <fieldset class="settings-checks">
        <legend>${t("settings.alerts.events")}</legend>
        ${events.map((event) => html`<label class="settings-check"><input type="checkbox" checked=${form.events.includes(event)}
          onChange=${(change) => toggleEvent(event, change.target.checked)} /> <span>${eventLabel(event)}</span></label>`)}
      </fieldset>
    <//>
  <//>`;
}

// ---- proxies

function Proxies({ strategy }) {
  const state = useAsync(() => api.get("/api/admin/proxies"), []);
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ url: "", username: "", password: "", label: "" });
  const nameOf = (proxy) => proxy.label || `#${proxy.id}`;
  async function create() {
    const body = { url: form.url.trim() };
    for (const field of ["username", "password", "label"]) if (form[field].trim()) body[field] = form[field].trim();
    const proxy = await api.post("/api/admin/proxies", body);
    toast(t("settings.proxies.created", { name: nameOf(proxy) }));
    setForm({ url: "", username: "", password: "", label: "" });
    state.reload();
  }
  async function test(proxy) {
    await attempt(async () => {
      const answer = await api.post(`/api/admin/proxies/${proxy.id}/test`, {});
      if (answer.ok) toast(t("settings.proxies.reached", { name: nameOf(proxy), ms: fmtNumber(answer.latency_ms), status: answer.status }));
      else toast(t("settings.proxies.unreached", { name: nameOf(proxy), error: answer.error }), "bad");
      state.reload();
    });
  }
  async function toggle(proxy, on) {
    const ok = await attempt(() => api.patch(`/api/admin/proxies/${proxy.id}`, { disabled: !on }),
      t(on ? "settings.proxies.enabled" : "settings.proxies.disabled", { name: nameOf(proxy) }));
    if (ok) state.reload();
  }
  async function remove(proxy) {
    const ok = await confirmAction({ title: t("settings.proxies.delete_title"), text: t("settings.proxies.delete_text", { name: nameOf(proxy) }), confirm: t("settings.delete") });
    if (ok && (await attempt(() => api.del(`/api/admin/proxies/${proxy.id}`), t("settings.proxies.deleted", { name: nameOf(proxy) })))) state.reload();
  }
  const stateOf = (proxy) => {
    if (proxy.disabled) return html`<${Badge}>${t("settings.proxies.off")}<//>`;
    if (proxy.down_for) return html`<${Badge} tone="warn">${t("settings.proxies.resting", { time: duration(proxy.down_for) || t("settings.unit.s", { n: fmtNumber(proxy.down_for) }) })}<//>`;
    return html`<${Badge} tone="ok">${t("settings.proxies.ready")}<//>`;
  };
  const addButton = html`<${Button} variant="primary" icon="plus" onClick=${() => setOpen(true)}>${t("settings.proxies.add")}<//>`;
  const columns = [
    { key: "proxy", label: t("settings.col.proxy"), render: (proxy) => html`<strong>${nameOf(proxy)}</strong>
      <div class="mono small muted settings-url">${proxy.url}${proxy.username ? ` · ${proxy.username}` : ""}</div>` },
    { key: "state", label: t("settings.col.state"), render: stateOf },
    { key: "failures", label: t("settings.col.failures"), align: "right", render: (proxy) => fmtNumber(proxy.failures) },
    { key: "uses", label: t("settings.col.uses"), align: "right", render: (proxy) => fmtNumber(proxy.uses) },
    { key: "credentials", label: t("settings.col.credentials"), render: (proxy) => proxy.credentials?.length ? proxy.credentials.map((id) => `#${id}`).join(", ") : "–" },
    { key: "enabled", label: t("settings.col.enabled"), render: (proxy) => html`<${Switch} checked=${!proxy.disabled}
      label=${t("settings.proxies.enable", { name: nameOf(proxy) })} onChange=${(on) => toggle(proxy, on)} />` },
    { key: "actions", label: t("settings.col.actions"), align: "right", render: (proxy) => html`<div class="settings-actions">
      <${Button} size="sm" icon="play" aria-label=${t("settings.proxies.test_label", { name: nameOf(proxy) })} onClick=${() => test(proxy)}>${t("settings.test")}<//>
      <${IconButton} icon="trash" label=${t("settings.proxies.delete_label", { name: nameOf(proxy) })} onClick=${() => remove(proxy)} />
    </div>` },
  ];
  return html`<div class="stack">
    ${strategy}
    <${Card} title=${t("settings.proxies.pool")} subtitle=${t("settings.about.proxies")} actions=${state.data?.proxies?.length ? addButton : null}>
      <${Resource} state=${state}>${() => html`<${Table} columns=${columns} rows=${state.data.proxies} caption=${t("settings.proxies.pool")}
        empty=${html`<${Empty} icon="addresses" title=${t("settings.proxies.empty")} text=${t("settings.proxies.empty_text")} action=${addButton} />`} />`}<//>
    <//>
    <${CreateDialog} open=${open} title=${t("settings.proxies.add")} onClose=${() => setOpen(false)} onSubmit=${create}>
      <${Field} label=${t("settings.proxies.url")} hint=${t("settings.proxies.url_hint")}>
        ${(ids) => html`<${Input} ...${ids} value=${form.url} spellcheck="false" placeholder="socks5://10.0.0.5:1080" onInput=${(event) => setForm({ ...form, url: event.target.value })} />`}
      <//>
      <div class="grid grid-2">
        <${Field} label=${t("settings.proxies.username")}>
          ${(ids) => html`<${Input} ...${ids} value=${form.username} autocomplete="off" onInput=${(event) => setForm({ ...form, username: event.target.value })} />`}
        <//>
        <${Field} label=${t("settings.proxies.password")}>
          ${(ids) => html`<${Input} ...${ids} type="password" value=${form.password} autocomplete="new-password" onInput=${(event) => setForm({ ...form, password: event.target.value })} />`}
        <//>
      </div>
      <${Field} label=${t("settings.proxies.label")}>
        ${(ids) => html`<${Input} ...${ids} value=${form.label} maxlength="200" placeholder="office" onInput=${(event) => setForm({ ...form, label: event.target.value })} />`}
      <//>
    <//>
  </div>`;
}

// ---- credential groups

function Groups() {
  const state = useAsync(() => api.get("/api/admin/groups"), []);
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ name: "", description: "" });
  const [editing, setEditing] = useState(null);
  async function create() {
    const body = { name: form.name.trim() };
    if (form.description.trim()) body.description = form.description.trim();
    await api.post("/api/admin/groups", body);
    toast(t("settings.groups.created", { name: body.name }));
    setForm({ name: "", description: "" });
    state.reload();
  }
  async function remove(group) {
    const ok = await confirmAction({ title: t("settings.groups.delete_title"), text: t("settings.groups.delete_text", { name: group.name }), confirm: t("settings.delete") });
    if (ok && (await attempt(() => api.del(`/api/admin/groups/${encodeURIComponent(group.name)}`), t("settings.groups.deleted", { name: group.name })))) state.reload();
  }
  const addButton = html`<${Button} variant="primary" icon="plus" onClick=${() => setOpen(true)}>${t("settings.groups.add")}<//>`;
  const columns = [
    { key: "name", label: t("settings.col.name"), render: (group) => html`<strong class="mono">${group.name}</strong>` },
    { key: "description", label: t("settings.col.description"), render: (group) => group.description || html`<span class="muted">–</span>` },
    { key: "members", label: t("settings.col.members"), render: (group) => group.credential_ids.length
      ? group.credential_ids.map((id) => `#${id}`).join(", ") : html`<span class="muted">${t("settings.groups.no_members")}</span>` },
    { key: "created", label: t("settings.col.created"), render: (group) => html`<span title=${fmtDate(group.created_at)}>${fmtRelative(group.created_at)}</span>` },
    { key: "actions", label: t("settings.col.actions"), align: "right", render: (group) => html`<div class="settings-actions">
      <${Button} size="sm" icon="credentials" aria-label=${t("settings.groups.members_label", { name: group.name })} onClick=${() => setEditing(group)}>${t("settings.groups.members")}<//>
      <${IconButton} icon="trash" label=${t("settings.groups.delete_label", { name: group.name })} onClick=${() => remove(group)} />
    </div>` },
  ];
  return html`<${Card} title=${t("settings.section.groups")} subtitle=${t("settings.about.groups")} actions=${state.data?.groups?.length ? addButton : null}>
    <${Resource} state=${state}>${() => html`<${Table} columns=${columns} rows=${state.data.groups} rowKey=${(group) => group.name} caption=${t("settings.section.groups")}
      empty=${html`<${Empty} icon="credentials" title=${t("settings.groups.empty")} text=${t("settings.groups.empty_text")} action=${addButton} />`} />`}<//>
    <${CreateDialog} open=${open} title=${t("settings.groups.add")} onClose=${() => setOpen(false)} onSubmit=${create}>
      <${Field} label=${t("settings.groups.name")} hint=${t("settings.groups.name_hint")}>
        ${(ids) => html`<${Input} ...${ids} value=${form.name} maxlength="64" spellcheck="false" placeholder="team-a" onInput=${(event) => setForm({ ...form, name: event.target.value })} />`}
      <//>
      <${Field} label=${t("settings.groups.description")}>
        ${(ids) => html`<${Input} ...${ids} value=${form.description} maxlength="1000" onInput=${(event) => setForm({ ...form, description: event.target.value })} />`}
      <//>
    <//>
    ${editing && html`<${Members} group=${editing} onClose=${() => setEditing(null)} onSaved=${() => { setEditing(null); state.reload(); }} />`}
  <//>`;
}

// Which credentials a group holds: a checkbox per stored credential, saved all at once.
function Members({ group, onClose, onSaved }) {
  const credentials = useAsync(() => api.get("/api/admin/credentials"), []);
  const [chosen, setChosen] = useState(new Set(group.credential_ids));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  async function save() {
    setBusy(true);
    try {
      await api.put(`/api/admin/groups/${encodeURIComponent(group.name)}/credentials`, { ids: [...chosen].sort((a, b) => a - b) });
      toast(t("settings.groups.saved", { name: group.name }));
      onSaved();
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  }
  function flip(id, on) {
    const next = new Set(chosen);
    if (on) next.add(id);
    else next.delete(id);
    setChosen(next);
  }
  const list = credentials.data?.credentials || [];
  return html`<${Modal} open=${true} title=${t("settings.groups.members_title", { name: group.name })} onClose=${onClose}
    footer=${html`<${Button} onClick=${onClose}>${t("settings.cancel")}<//>
      <${Button} variant="primary" busy=${busy} onClick=${save} disabled=${!credentials.data}>${t("settings.save")}<//>`}>
    ${error && html`<${ErrorNote} error=${error} />`}
    <${Resource} state=${credentials}>${() => list.length ? html`<fieldset class="settings-checks">
      <legend class="sr-only">${t("settings.groups.members_label", { name: group.name })}</legend>
      ${list.map((credential) => html`<label class="settings-check"><input type="checkbox" checked=${chosen.has(credential.id)}
        onChange=${(event) => flip(credential.id, event.target.checked)} />
        <span>#${credential.id} ${credential.email || (credential.label !== `#${credential.id}` ? credential.label : "")}</span>
        <span class="small muted">${credential.authMethod || ""}</span></label>`)}
    </fieldset>` : html`<${Empty} icon="credentials" title=${t("settings.groups.no_credentials")} />`}<//>
  <//>`;
}

// ---- the page

export default function Page({ query }) {
  const listing = useAsync(() => api.get("/api/admin/settings"), []);
  const [drafts, setDrafts] = useState({});
  const rows = listing.data?.settings || [];
  const runtime = sectionsOf(rows);
  const asked = query.get("tab");
  const tab = asked && (runtime.includes(asked) || RESOURCES.includes(asked)) ? asked : runtime[0] || "alerts";

  function pick(next) {
    navigate("settings", { tab: next }, { replace: true });
  }
  function saved(settings, keys) {
    const before = rows.find((row) => row.key === "console.announcement")?.value ?? null;
    listing.setData({ settings });
    setDrafts((previous) => Object.fromEntries(Object.entries(previous).filter(([key]) => !keys.includes(key))));
    const after = settings.find((row) => row.key === "console.announcement")?.value ?? null;
    // The shell draws the banner from the session; keep it in step so it shows at once
    // (the session GET returns the new text on the next load too).
    if (after !== before && session.value) {
      session.value.announcement = after || null;
      navigate("settings", { tab }, { replace: true });
    }
  }

  // Sections with unsaved edits, marked in the navigation.
  const dirty = new Set(rows.filter((row) => row.key in drafts && drafts[row.key] !== toDraft(row)).map((row) => FOLDED[row.group] || row.group));

  const section = (name, extra) => html`<${SettingsSection} key=${name} name=${name} rows=${rowsOf(rows, name)}
    drafts=${drafts} setDrafts=${setDrafts} onSaved=${saved} extra=${extra} />`;

  function panel() {
    if (tab === "alerts") return html`<${Alerts} />`;
    if (tab === "groups") return html`<${Groups} />`;
    if (tab === "proxies") {
      const strategy = Object.keys(FOLDED).filter((group) => FOLDED[group] === "proxies" && rowsOf(rows, group).length);
      return html`<${Proxies} strategy=${strategy.map((group) => section(group))} />`;
    }
    if (!rows.length) return html`<div class="card"><${Empty} title=${t("settings.none")} /></div>`;
    if (tab === "models") return html`<div class="stack">${section("models")}<${ModelResolver} /></div>`;
    return section(tab);
  }

  return html`<${PageHeader} title=${t("nav.settings")} subtitle=${t("settings.subtitle")} />
    ${listing.error && html`<${ErrorNote} error=${listing.error} retry=${listing.reload} />`}
    ${listing.loading && !listing.data && !listing.error ? html`<${Loading} />` : html`<div class="settings-layout">
      <${SectionNav} runtime=${runtime} value=${tab} onChange=${pick} dirty=${dirty} />
      <div class="settings-panel" id="settings-panel" role="tabpanel" aria-labelledby=${"settings-tab-" + tab}>
        ${panel()}
      </div>
    </div>`}`;
}
