// Connect a client: ready-to-paste settings for the programs people use, filled with this
// gateway's address and a client key. Stored keys are kept only as a hash (their prefix is all
// the API shows), so the key is pasted here or created here; it stays in this page.
import { html, useState } from "../lib/preact.js";
import { t, register } from "../lib/i18n.js";
import { api, clientModels, ROOT } from "../lib/api.js";
import { navigate, href } from "../lib/router.js";
import { Icon } from "../lib/icons.js";
import {
  PageHeader, Card, Field, Input, Select, Button, Tabs, CodeBlock, CopyButton, Modal, Note,
  ErrorNote, plainError, toast, loadStyle, useAsync,
} from "../lib/ui.js";

loadStyle("pages/connect.css");

register({
  en: {
    "connect.subtitle": "Ready-to-paste settings for the programs your people use, filled with this gateway's address and a key.",
    "connect.setup": "Address and key",
    "connect.url": "Gateway address",
    "connect.url.hint": "As this browser reaches the gateway. Clients elsewhere may need another host name.",
    "connect.url_openai": "OpenAI-compatible base URL",
    "connect.key": "Client key",
    "connect.key.placeholder": "Paste a client key (kg-…)",
    "connect.key.hint": "It stays in this page and is never sent anywhere. Stored keys show only their first characters, so paste the whole key or create one.",
    "connect.key.matches": "This is the key “{name}”.",
    "connect.key.revoked": "This looks like the key “{name}”, which is revoked or disabled: clients will be refused.",
    "connect.key.unknown": "No stored key starts like this one: clients will be refused unless it is a configured key.",
    "connect.key.create": "Create a key for this client",
    "connect.key.manage": "Manage keys",
    "connect.model": "Model for the examples",
    "connect.model.failed": "The model list could not be loaded: {message}",
    "connect.create.title": "A new client key",
    "connect.create.name": "Name",
    "connect.create.name_hint": "Who or what uses it, e.g. “alice – Claude Code”. Limits can be set on the API keys page.",
    "connect.create.submit": "Create key",
    "connect.create.done": "Key “{name}” created and filled in below.",
    "connect.create.once": "This is the only time the whole key is shown: keep it somewhere safe before leaving the page.",
    "connect.clients": "Clients",
    "connect.share": "The snippets hold the key: share them only with whoever the key is for.",
    "connect.untested": "kirogate's test suite does not drive this client; the fields are named as in its settings.",
    "connect.field": "Setting",
    "connect.value": "Value",
    "connect.your_key": "YOUR_KIROGATE_KEY",
    "connect.claude.intro": "In the shell that starts Claude Code (or in your shell profile):",
    "connect.claude.note": "Claude Code's default model can be newer than the gateway knows; ANTHROPIC_MODEL picks one from this gateway's list. For exact input token counts, use {url}/cc as the base URL (answers are buffered).",
    "connect.codex.intro": "In ~/.codex/config.toml:",
    "connect.codex.env": "Then, in the shell that runs Codex:",
    "connect.codex.note": "Codex warns that it has no metadata for the model name; that is harmless.",
    "connect.cline.intro": "In Cline's settings (the gear icon), either as Anthropic:",
    "connect.cline.or": "or as an OpenAI-compatible provider:",
    "connect.cline.provider": "API Provider",
    "connect.cline.custom_url": "Use custom base URL",
    "connect.cline.custom_url.value": "checked",
    "connect.cline.base_url": "Base URL",
    "connect.cline.key": "API Key",
    "connect.cline.model": "Model",
    "connect.cline.model_id": "Model ID",
    "connect.cherry.intro": "Settings → Model Provider → Add. As Anthropic:",
    "connect.cherry.or": "or as an OpenAI-type provider:",
    "connect.cherry.name": "Provider name",
    "connect.cherry.type": "Provider type",
    "connect.cherry.key": "API Key",
    "connect.cherry.address": "API Address",
    "connect.cherry.models": "Models",
    "connect.cherry.models.value": "Manage → add {model}",
    "connect.cherry.note": "Enter the address without a trailing “/”: Cherry Studio adds the /v1 path itself. Turn the provider's switch on after saving.",
    "connect.lobe.intro": "Settings → AI Service Provider → OpenAI:",
    "connect.lobe.key": "API Key",
    "connect.lobe.proxy": "API Proxy Address",
    "connect.lobe.models": "Model list",
    "connect.lobe.models.value": "Fetch models, then enable {model}",
    "connect.lobe.env": "A self-hosted LobeChat can be given the same settings as environment variables:",
    "connect.python.anthropic": "The anthropic SDK (pip install anthropic):",
    "connect.python.openai": "The openai SDK (pip install openai):",
    "connect.snippet": "{client} settings",
  },
  "zh-CN": {
    "connect.subtitle": "为常用客户端准备好可直接粘贴的设置，已填入本网关的地址和密钥。",
    "connect.setup": "地址和密钥",
    "connect.url": "网关地址",
    "connect.url.hint": "即本浏览器访问网关所用的地址。其他机器上的客户端可能需要换成另一个主机名。",
    "connect.url_openai": "OpenAI 兼容的 Base URL",
    "connect.key": "客户端密钥",
    "connect.key.placeholder": "粘贴客户端密钥（kg-…）",
    "connect.key.hint": "密钥只留在本页面，不会发送到任何地方。已保存的密钥只显示开头几个字符，所以请粘贴完整密钥或新建一个。",
    "connect.key.matches": "这是密钥“{name}”。",
    "connect.key.revoked": "这看起来是密钥“{name}”，它已被吊销或停用：客户端会被拒绝。",
    "connect.key.unknown": "没有以此开头的已保存密钥：除非它是配置文件中的密钥，否则客户端会被拒绝。",
    "connect.key.create": "为这个客户端新建密钥",
    "connect.key.manage": "管理密钥",
    "connect.model": "示例中使用的模型",
    "connect.model.failed": "无法加载模型列表：{message}",
    "connect.create.title": "新建客户端密钥",
    "connect.create.name": "名称",
    "connect.create.name_hint": "谁或什么在使用它，例如“alice – Claude Code”。可以在 API 密钥页面设置限额。",
    "connect.create.submit": "创建密钥",
    "connect.create.done": "已创建密钥“{name}”，并填入下方。",
    "connect.create.once": "完整密钥只显示这一次：离开页面前请妥善保存。",
    "connect.clients": "客户端",
    "connect.share": "这些片段包含密钥：只分享给该密钥的使用者。",
    "connect.untested": "kirogate 的测试套件没有驱动这个客户端；字段名称与其设置界面一致。",
    "connect.field": "设置项",
    "connect.value": "值",
    "connect.your_key": "YOUR_KIROGATE_KEY",
    "connect.claude.intro": "在启动 Claude Code 的 shell 中（或写入 shell 配置文件）：",
    "connect.claude.note": "Claude Code 的默认模型可能比网关已知的更新；用 ANTHROPIC_MODEL 从本网关的列表中选一个。若需要精确的输入 token 数，请将 Base URL 设为 {url}/cc（回答会缓冲后一次返回）。",
    "connect.codex.intro": "写入 ~/.codex/config.toml：",
    "connect.codex.env": "然后在运行 Codex 的 shell 中：",
    "connect.codex.note": "Codex 会提示它没有该模型名称的元数据，这不影响使用。",
    "connect.cline.intro": "在 Cline 的设置（齿轮图标）中，可以选 Anthropic：",
    "connect.cline.or": "也可以选 OpenAI 兼容的提供方：",
    "connect.cline.provider": "API Provider",
    "connect.cline.custom_url": "Use custom base URL",
    "connect.cline.custom_url.value": "勾选",
    "connect.cline.base_url": "Base URL",
    "connect.cline.key": "API Key",
    "connect.cline.model": "Model",
    "connect.cline.model_id": "Model ID",
    "connect.cherry.intro": "设置 → 模型服务 → 添加。类型选 Anthropic：",
    "connect.cherry.or": "也可以选 OpenAI 类型：",
    "connect.cherry.name": "提供商名称",
    "connect.cherry.type": "提供商类型",
    "connect.cherry.key": "API 密钥",
    "connect.cherry.address": "API 地址",
    "connect.cherry.models": "模型",
    "connect.cherry.models.value": "管理 → 添加 {model}",
    "connect.cherry.note": "地址末尾不要加“/”：Cherry Studio 会自己补上 /v1 路径。保存后请打开该提供商的开关。",
    "connect.lobe.intro": "设置 → AI 服务商 → OpenAI：",
    "connect.lobe.key": "API Key",
    "connect.lobe.proxy": "API 代理地址",
    "connect.lobe.models": "模型列表",
    "connect.lobe.models.value": "获取模型列表，然后启用 {model}",
    "connect.lobe.env": "自部署的 LobeChat 也可以用环境变量提供同样的设置：",
    "connect.python.anthropic": "anthropic SDK（pip install anthropic）：",
    "connect.python.openai": "openai SDK（pip install openai）：",
    "connect.snippet": "{client} 设置",
  },
});

const CLIENTS = [
  ["claude", "Claude Code"],
  ["codex", "Codex CLI"],
  ["cline", "Cline"],
  ["cherry", "Cherry Studio"],
  ["lobe", "LobeChat"],
  ["python", "Python"],
];

// The key object whose prefix ("kg-Qm3v…") the pasted key starts with, if any.
function keyFor(keys, pasted) {
  if (!pasted || !keys) return null;
  return keys.find((key) => {
    const start = (key.prefix || "").replace(/…$/, "");
    return start && pasted.startsWith(start);
  }) || null;
}

export default function Connect() {
  const base = window.location.origin + ROOT;
  const [key, setKey] = useState("");
  const [model, setModel] = useState("");
  const [client, setClient] = useState("claude");
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState(null);
  const keys = useAsync(() => api.get("/api/admin/keys").then((body) => body.keys || []), []);
  const models = useAsync(
    () => clientModels(),
    [],
  );
  const ids = models.data || [];
  const chosen = model || ids.find((id) => id === "claude-sonnet-4-6") || ids[0] || "claude-sonnet-4-6";
  const shownKey = key.trim() || t("connect.your_key");
  const match = keyFor(keys.data, key.trim());

  let keyHint = null;
  if (key.trim() && keys.data) {
    if (!match) keyHint = html`<${Note} tone="warn">${t("connect.key.unknown")}<//>`;
    else if (match.revoked || !match.enabled || match.expired) keyHint = html`<${Note} tone="warn">${t("connect.key.revoked", { name: match.name })}<//>`;
    else keyHint = html`<p class="connect-match small"><${Icon} name="check" size=${14} /> ${t("connect.key.matches", { name: match.name })}</p>`;
  }

  return html`<${PageHeader} title=${t("nav.connect")} subtitle=${t("connect.subtitle")} />
    <div class="stack">
      <${Card} title=${t("connect.setup")}>
        <div class="connect-setup">
          <div class="stack">
            <div class="field">
              <span class="connect-label">${t("connect.url")}</span>
              <div class="connect-url"><code>${base}</code><${CopyButton} text=${base} /></div>
              <p class="hint">${t("connect.url.hint")}</p>
            </div>
            <div class="field">
              <span class="connect-label">${t("connect.url_openai")}</span>
              <div class="connect-url"><code>${base}/v1</code><${CopyButton} text=${base + "/v1"} /></div>
            </div>
          </div>
          <div class="stack">
            <${Field} label=${t("connect.key")} hint=${t("connect.key.hint")}>
              ${(field) => html`<${Input} ...${field} value=${key} placeholder=${t("connect.key.placeholder")} spellcheck="false"
                autocomplete="off" onInput=${(event) => {
                  setKey(event.target.value);
                  if (created && event.target.value !== created.key) setCreated(null);
                }} />`}
            <//>
            ${keyHint}
            ${created && html`<${Note} tone="warn">${t("connect.create.once")}<//>`}
            <div class="row">
              <${Button} icon="plus" onClick=${() => setCreating(true)}>${t("connect.key.create")}<//>
              <a href=${href("keys")} onClick=${(event) => { event.preventDefault(); navigate("keys"); }}>${t("connect.key.manage")}</a>
            </div>
            <${Field} label=${t("connect.model")} error=${models.error ? t("connect.model.failed", { message: plainError(models.error) }) : null}>
              ${(field) => html`<${Select} ...${field} value=${chosen} onChange=${setModel} options=${ids.length ? ids : [chosen]} />`}
            <//>
          </div>
        </div>
      <//>
      <${Card} title=${t("connect.clients")} subtitle=${t("connect.share")}>
        <div class="connect-tabs"><${Tabs} label=${t("connect.clients")} tabs=${CLIENTS} value=${client} onChange=${setClient} /></div>
        <div role="tabpanel" class="connect-panel" aria-label=${CLIENTS.find(([name]) => name === client)[1]}>
          <${Snippets} client=${client} base=${base} apiKey=${shownKey} model=${chosen} />
        </div>
      <//>
    </div>
    <${CreateKey} open=${creating} onClose=${() => setCreating(false)} suggested=${CLIENTS.find(([name]) => name === client)[1]}
      onCreated=${(body) => {
        setKey(body.key);
        setCreated(body);
        setCreating(false);
        keys.reload();
        toast(t("connect.create.done", { name: body.name }));
      }} />`;
}

function CreateKey({ open, onClose, onCreated, suggested }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.post("/api/admin/keys", { name: name.trim() || suggested }));
      setName("");
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  return html`<${Modal} open=${open} title=${t("connect.create.title")} onClose=${onClose}>
    <form class="stack" onSubmit=${submit}>
      <${Field} label=${t("connect.create.name")} hint=${t("connect.create.name_hint")}>
        ${(field) => html`<${Input} ...${field} value=${name} placeholder=${suggested} maxlength="200" autofocus
          onInput=${(event) => setName(event.target.value)} />`}
      <//>
      <${ErrorNote} error=${error} />
      <div class="modal-actions">
        <${Button} onClick=${onClose}>${t("ui.cancel")}<//>
        <${Button} type="submit" variant="primary" busy=${busy}>${t("connect.create.submit")}<//>
      </div>
    </form>
  <//>`;
}

// A settings form to fill in by hand: each field's name and the value to type, copyable.
function Fields({ rows, label }) {
  return html`<div class="connect-fields" role="table" aria-label=${label}>
    <div role="row" class="connect-fields-head">
      <span role="columnheader">${t("connect.field")}</span><span role="columnheader">${t("connect.value")}</span>
    </div>
    ${rows.map(([name, value, copy]) => html`<div role="row" class="connect-field">
      <span role="rowheader" class="connect-field-name">${name}</span>
      <span role="cell" class="connect-field-value"><code>${value}</code>${copy !== false && html`<${CopyButton} text=${value} />`}</span>
    </div>`)}
  </div>`;
}

function Snippets({ client, base, apiKey, model }) {
  const name = CLIENTS.find(([id]) => id === client)[1];
  const label = t("connect.snippet", { client: name });
  if (client === "claude") {
    const shell = [
      `export ANTHROPIC_BASE_URL=${base}`,
      `export ANTHROPIC_API_KEY=${apiKey}`,
      `export ANTHROPIC_MODEL=${model}`,
      "export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
      "claude",
    ].join("\n");
    return html`<div class="stack">
      <p>${t("connect.claude.intro")}</p>
      <${CodeBlock} text=${shell} label=${label} />
      <p class="muted small">${t("connect.claude.note", { url: base })}</p>
    </div>`;
  }
  if (client === "codex") {
    const toml = [
      `model = "${model}"`,
      'model_provider = "kirogate"',
      "check_for_update_on_startup = false",
      "",
      "[model_providers.kirogate]",
      'name = "kirogate"',
      `base_url = "${base}/v1"`,
      'env_key = "KIROGATE_CLIENT_KEY"',
      'wire_api = "responses"',
      "",
      "[features]",
      "plugins = false",
      "",
      "[analytics]",
      "enabled = false",
    ].join("\n");
    return html`<div class="stack">
      <p>${t("connect.codex.intro")}</p>
      <${CodeBlock} text=${toml} label=${label + " (config.toml)"} />
      <p>${t("connect.codex.env")}</p>
      <${CodeBlock} text=${`export KIROGATE_CLIENT_KEY=${apiKey}\ncodex`} label=${label + " (shell)"} />
      <p class="muted small">${t("connect.codex.note")}</p>
    </div>`;
  }
  if (client === "cline") {
    return html`<div class="stack">
      <p>${t("connect.cline.intro")}</p>
      <${Fields} label=${label + " (Anthropic)"} rows=${[
        [t("connect.cline.provider"), "Anthropic", false],
        [t("connect.cline.custom_url"), t("connect.cline.custom_url.value"), false],
        [t("connect.cline.base_url"), base],
        [t("connect.cline.key"), apiKey],
        [t("connect.cline.model"), model],
      ]} />
      <p>${t("connect.cline.or")}</p>
      <${Fields} label=${label + " (OpenAI Compatible)"} rows=${[
        [t("connect.cline.provider"), "OpenAI Compatible", false],
        [t("connect.cline.base_url"), base + "/v1"],
        [t("connect.cline.key"), apiKey],
        [t("connect.cline.model_id"), model],
      ]} />
      <p class="muted small">${t("connect.untested")}</p>
    </div>`;
  }
  if (client === "cherry") {
    return html`<div class="stack">
      <p>${t("connect.cherry.intro")}</p>
      <${Fields} label=${label + " (Anthropic)"} rows=${[
        [t("connect.cherry.name"), "kirogate"],
        [t("connect.cherry.type"), "Anthropic", false],
        [t("connect.cherry.key"), apiKey],
        [t("connect.cherry.address"), base],
        [t("connect.cherry.models"), t("connect.cherry.models.value", { model }), false],
      ]} />
      <p>${t("connect.cherry.or")}</p>
      <${Fields} label=${label + " (OpenAI)"} rows=${[
        [t("connect.cherry.type"), "OpenAI", false],
        [t("connect.cherry.key"), apiKey],
        [t("connect.cherry.address"), base],
      ]} />
      <p class="muted small">${t("connect.cherry.note")} ${t("connect.untested")}</p>
    </div>`;
  }
  if (client === "lobe") {
    const env = [`OPENAI_API_KEY=${apiKey}`, `OPENAI_PROXY_URL=${base}/v1`, `OPENAI_MODEL_LIST=-all,+${model}`].join("\n");
    return html`<div class="stack">
      <p>${t("connect.lobe.intro")}</p>
      <${Fields} label=${label} rows=${[
        [t("connect.lobe.key"), apiKey],
        [t("connect.lobe.proxy"), base + "/v1"],
        [t("connect.lobe.models"), t("connect.lobe.models.value", { model }), false],
      ]} />
      <p>${t("connect.lobe.env")}</p>
      <${CodeBlock} text=${env} label=${label + " (env)"} />
      <p class="muted small">${t("connect.untested")}</p>
    </div>`;
  }
  const anthropic = [
    "import anthropic",
    "",
    `client = anthropic.Anthropic(base_url="${base}", api_key="${apiKey}")`,
    "message = client.messages.create(",
    `    model="${model}",`,
    "    max_tokens=1024,",
    '    messages=[{"role": "user", "content": "Hello"}],',
    ")",
    "print(message.content[0].text)",
  ].join("\n");
  const openai = [
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url="${base}/v1", api_key="${apiKey}")`,
    "reply = client.chat.completions.create(",
    `    model="${model}",`,
    '    messages=[{"role": "user", "content": "Hello"}],',
    ")",
    "print(reply.choices[0].message.content)",
  ].join("\n");
  return html`<div class="stack">
    <p>${t("connect.python.anthropic")}</p>
    <${CodeBlock} text=${anthropic} label=${label + " (anthropic)"} />
    <p>${t("connect.python.openai")}</p>
    <${CodeBlock} text=${openai} label=${label + " (openai)"} />
  </div>`;
}
