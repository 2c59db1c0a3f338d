// The "Add credentials" dialog of the credentials page: a device login (AWS Builder ID, IAM
// Identity Center), a Google / GitHub login, pasted JSON, an uploaded file or a list of
// refresh tokens. Logins are followed live until the credential is in the pool; imports
// answer one result per item.
import { html, useState, useEffect, useRef } from "../lib/preact.js";
import { api, ROOT } from "../lib/api.js";
import { t, register, fmtNumber, fmtBytes } from "../lib/i18n.js";
import { Icon } from "../lib/icons.js";
import {
  Modal, Tabs, Field, Input, TextArea, Select, Segmented, Switch, Button, CopyButton,
  Badge, Spinner, ErrorNote, Note, toast, plainError,
} from "../lib/ui.js";

register({
  en: {
    "credentials.add.title": "Add credentials",
    "credentials.add.tabs": "How to add",
    "credentials.add.tab.device": "Builder ID / IdC",
    "credentials.add.tab.social": "Google / GitHub",
    "credentials.add.tab.json": "Paste JSON",
    "credentials.add.tab.file": "Upload a file",
    "credentials.add.tab.tokens": "Refresh tokens",
    "credentials.device.intro": "Sign in with an AWS account in any browser, on any device. The credential joins the pool as soon as the sign-in is approved.",
    "credentials.device.kind": "Account type",
    "credentials.device.builder": "AWS Builder ID",
    "credentials.device.idc": "IAM Identity Center",
    "credentials.device.start_url": "Start URL",
    "credentials.device.start_url_hint": "Your organisation's portal, like https://d-1234567890.awsapps.com/start",
    "credentials.device.region": "Region (optional)",
    "credentials.device.region_hint": "Where the portal's login service runs, when it is not the gateway's own region.",
    "credentials.device.start": "Start login",
    "credentials.device.step1": "1. Open the sign-in page and confirm this code:",
    "credentials.device.code": "User code",
    "credentials.device.copy_code": "Copy code",
    "credentials.device.open": "Open the sign-in page",
    "credentials.device.or": "Or go to {uri} and type the code yourself.",
    "credentials.device.step2": "2. Approve the access request. This page follows the login by itself.",
    "credentials.login.waiting": "Waiting for the sign-in…",
    "credentials.login.expires": "The code expires in {time}.",
    "credentials.login.expires_social": "The login expires in {time}.",
    "credentials.login.stop": "Stop waiting",
    "credentials.login.again": "Start again",
    "credentials.login.another": "Add another",
    "credentials.login.done": "Done",
    "credentials.login.complete": "Signed in: credential #{id} is in the pool.",
    "credentials.login.expired": "The login was not completed in time. Start again to get a new code.",
    "credentials.login.denied": "The sign-in was refused in the browser.",
    "credentials.login.failed": "The login did not work: {error}",
    "credentials.login.gone": "This login is no longer known to the gateway. Start again.",
    "credentials.login.added_toast": "Credential #{id} added",
    "credentials.social.intro": "Sign in with a Google or GitHub account, the way the Kiro IDE does.",
    "credentials.social.provider": "Provider",
    "credentials.social.callback": "Come back to this gateway by itself",
    "credentials.social.callback_hint": "Only when the sign-in service accepts this gateway's address. Otherwise leave it off and paste the address, as below.",
    "credentials.social.start": "Start login",
    "credentials.social.step1": "1. Open the {provider} sign-in page and sign in.",
    "credentials.social.open": "Open the {provider} sign-in page",
    "credentials.social.step2": "2. After signing in, the browser tries to open an address starting with kiro:// and cannot (it belongs to the Kiro IDE). Copy that address from the address bar or from the error message, and paste it here.",
    "credentials.social.step2_callback": "2. After signing in, the browser comes back to this gateway and this page picks the login up by itself.",
    "credentials.social.url": "Address the browser ended on",
    "credentials.social.finish": "Finish login",
    "credentials.social.url_empty": "Paste the address that starts with kiro:// first.",
    "credentials.json.label": "Credentials as JSON",
    "credentials.json.hint": "A kiro.rs credentials.json, a Kiro IDE token file, an AIClient-2-API provider pool, or a kirogate export with secrets.",
    "credentials.json.import": "Import",
    "credentials.json.empty": "Paste some JSON first.",
    "credentials.json.bad": "This is not valid JSON: {message}",
    "credentials.file.label": "File to import",
    "credentials.file.drop": "Drop a file here, or",
    "credentials.file.choose": "Choose a file",
    "credentials.file.hint": "A credentials.json, a kiro-auth-token.json, provider_pools.json, a text file of refresh tokens (one a line) or kiro-cli's data.sqlite3.",
    "credentials.file.chosen": "{name} · {size}",
    "credentials.file.import": "Import the file",
    "credentials.tokens.label": "Refresh tokens, one a line",
    "credentials.tokens.hint": "Blank lines and lines starting with # are skipped.",
    "credentials.tokens.count": "{count} token(s)",
    "credentials.tokens.method": "Login method of these tokens",
    "credentials.tokens.method.social": "Google / GitHub (social)",
    "credentials.tokens.method.builder": "AWS Builder ID",
    "credentials.tokens.method.iam": "IAM Identity Center",
    "credentials.tokens.region": "Region (optional)",
    "credentials.tokens.client_id": "Client ID",
    "credentials.tokens.client_secret": "Client secret",
    "credentials.tokens.client_hint": "Builder ID and Identity Center tokens belong to a registered client: give its id and secret.",
    "credentials.tokens.import": "Import tokens",
    "credentials.tokens.empty": "Paste at least one refresh token.",
    "credentials.results.title": "Import results",
    "credentials.results.added": "{count} added",
    "credentials.results.duplicates": "{count} already in the pool",
    "credentials.results.invalid": "{count} not usable",
    "credentials.results.table": "One result per item",
    "credentials.results.status.added": "Added",
    "credentials.results.status.duplicate": "Duplicate",
    "credentials.results.status.invalid": "Invalid",
    "credentials.results.credential": "Credential #{id}",
    "credentials.results.toast": "{count} credential(s) added",
  },
  "zh-CN": {
    "credentials.add.title": "添加凭证",
    "credentials.add.tabs": "添加方式",
    "credentials.add.tab.device": "Builder ID / IdC",
    "credentials.add.tab.social": "Google / GitHub",
    "credentials.add.tab.json": "粘贴 JSON",
    "credentials.add.tab.file": "上传文件",
    "credentials.add.tab.tokens": "刷新令牌",
    "credentials.device.intro": "在任意设备的任意浏览器中登录 AWS 账号。登录获批后，凭证会立即加入凭证池。",
    "credentials.device.kind": "账号类型",
    "credentials.device.builder": "AWS Builder ID",
    "credentials.device.idc": "IAM Identity Center",
    "credentials.device.start_url": "起始 URL",
    "credentials.device.start_url_hint": "贵组织的门户地址，例如 https://d-1234567890.awsapps.com/start",
    "credentials.device.region": "区域（可选）",
    "credentials.device.region_hint": "门户登录服务所在的区域（与网关自身区域不同时填写）。",
    "credentials.device.start": "开始登录",
    "credentials.device.step1": "1. 打开登录页面并确认以下代码：",
    "credentials.device.code": "用户代码",
    "credentials.device.copy_code": "复制代码",
    "credentials.device.open": "打开登录页面",
    "credentials.device.or": "也可以访问 {uri}，手动输入代码。",
    "credentials.device.step2": "2. 批准访问请求。本页面会自动跟踪登录进度。",
    "credentials.login.waiting": "正在等待登录…",
    "credentials.login.expires": "代码将在 {time} 后过期。",
    "credentials.login.expires_social": "本次登录将在 {time} 后过期。",
    "credentials.login.stop": "停止等待",
    "credentials.login.again": "重新开始",
    "credentials.login.another": "继续添加",
    "credentials.login.done": "完成",
    "credentials.login.complete": "登录成功：凭证 #{id} 已加入凭证池。",
    "credentials.login.expired": "登录未在有效期内完成。请重新开始以获取新代码。",
    "credentials.login.denied": "登录请求在浏览器中被拒绝。",
    "credentials.login.failed": "登录失败：{error}",
    "credentials.login.gone": "网关已不再记录此次登录。请重新开始。",
    "credentials.login.added_toast": "已添加凭证 #{id}",
    "credentials.social.intro": "像 Kiro IDE 一样，使用 Google 或 GitHub 账号登录。",
    "credentials.social.provider": "登录方式",
    "credentials.social.callback": "登录后自动返回本网关",
    "credentials.social.callback_hint": "仅当登录服务接受本网关地址时可用。否则请保持关闭，并按下方步骤粘贴地址。",
    "credentials.social.start": "开始登录",
    "credentials.social.step1": "1. 打开 {provider} 登录页面并完成登录。",
    "credentials.social.open": "打开 {provider} 登录页面",
    "credentials.social.step2": "2. 登录后，浏览器会尝试打开一个以 kiro:// 开头的地址，但无法打开（它属于 Kiro IDE）。请从地址栏或错误提示中复制该地址，粘贴到这里。",
    "credentials.social.step2_callback": "2. 登录后，浏览器会自动返回本网关，本页面会自动完成登录。",
    "credentials.social.url": "浏览器最终停留的地址",
    "credentials.social.finish": "完成登录",
    "credentials.social.url_empty": "请先粘贴以 kiro:// 开头的地址。",
    "credentials.json.label": "JSON 格式的凭证",
    "credentials.json.hint": "支持 kiro.rs 的 credentials.json、Kiro IDE 令牌文件、AIClient-2-API 提供方池，或含密钥的 kirogate 导出文件。",
    "credentials.json.import": "导入",
    "credentials.json.empty": "请先粘贴 JSON。",
    "credentials.json.bad": "这不是有效的 JSON：{message}",
    "credentials.file.label": "要导入的文件",
    "credentials.file.drop": "将文件拖放到这里，或",
    "credentials.file.choose": "选择文件",
    "credentials.file.hint": "支持 credentials.json、kiro-auth-token.json、provider_pools.json、每行一个刷新令牌的文本文件，或 kiro-cli 的 data.sqlite3。",
    "credentials.file.chosen": "{name} · {size}",
    "credentials.file.import": "导入文件",
    "credentials.tokens.label": "刷新令牌（每行一个）",
    "credentials.tokens.hint": "空行和以 # 开头的行会被跳过。",
    "credentials.tokens.count": "{count} 个令牌",
    "credentials.tokens.method": "这些令牌的登录方式",
    "credentials.tokens.method.social": "Google / GitHub（社交登录）",
    "credentials.tokens.method.builder": "AWS Builder ID",
    "credentials.tokens.method.iam": "IAM Identity Center",
    "credentials.tokens.region": "区域（可选）",
    "credentials.tokens.client_id": "客户端 ID",
    "credentials.tokens.client_secret": "客户端密钥",
    "credentials.tokens.client_hint": "Builder ID 和 Identity Center 的令牌属于某个已注册的客户端：请填写其 ID 和密钥。",
    "credentials.tokens.import": "导入令牌",
    "credentials.tokens.empty": "请至少粘贴一个刷新令牌。",
    "credentials.results.title": "导入结果",
    "credentials.results.added": "已添加 {count} 个",
    "credentials.results.duplicates": "{count} 个已在池中",
    "credentials.results.invalid": "{count} 个不可用",
    "credentials.results.table": "逐条结果",
    "credentials.results.status.added": "已添加",
    "credentials.results.status.duplicate": "重复",
    "credentials.results.status.invalid": "无效",
    "credentials.results.credential": "凭证 #{id}",
    "credentials.results.toast": "已添加 {count} 个凭证",
  },
});

const IMPORT = "/api/admin/credentials/import";

// mm:ss left until `deadline` (ms since the epoch), ticking once a second.
function useCountdown(deadline) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!deadline) return undefined;
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [deadline]);
  const left = Math.max(0, Math.round(((deadline || 0) - now) / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}

// Follows a login (GET /logins/{id}) every `seconds` until it ends; calls onEnd(status).
function useLoginStatus(loginId, seconds, onEnd) {
  const ended = useRef(onEnd);
  ended.current = onEnd;
  useEffect(() => {
    if (!loginId) return undefined;
    let stopped = false;
    let timer = null;
    const poll = async () => {
      try {
        const status = await api.get(`/api/admin/logins/${loginId}`);
        if (stopped) return;
        if (status.status !== "pending") {
          ended.current(status);
          return;
        }
      } catch (error) {
        if (stopped) return;
        if (error.status === 404) {
          ended.current({ status: "gone" });
          return;
        }
        // a network hiccup: keep following
      }
      timer = setTimeout(poll, Math.max(1, seconds || 2) * 1000);
    };
    timer = setTimeout(poll, Math.max(1, seconds || 2) * 1000);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [loginId]);
}

// How an ended login reads, in words; `complete` is shown by LoginDone.
function endedText(status) {
  if (status.status === "expired") return t("credentials.login.expired");
  if (status.status === "denied") return t("credentials.login.denied");
  if (status.status === "gone") return t("credentials.login.gone");
  return t("credentials.login.failed", { error: status.error || status.status });
}

function LoginDone({ status, onAgain, onClose }) {
  const ok = status.status === "complete";
  return html`<div class="cred-login-end stack">
    ${ok ? html`<${Note} tone="ok">${t("credentials.login.complete", { id: status.credential_id })}<//>`
      : html`<${Note} tone="bad">${endedText(status)}<//>`}
    <div class="row">
      <${Button} onClick=${onAgain} icon=${ok ? "plus" : "refresh"}>${t(ok ? "credentials.login.another" : "credentials.login.again")}<//>
      ${ok && html`<${Button} variant="primary" onClick=${onClose}>${t("credentials.login.done")}<//>`}
    </div>
  </div>`;
}

// A pending login's live line: a spinner, what it waits for, when the code expires.
function Waiting({ deadline, onStop, expiresKey = "credentials.login.expires" }) {
  const left = useCountdown(deadline);
  return html`<div class="cred-waiting">
    <${Spinner} />
    <div>
      <div role="status" class="cred-waiting-text">${t("credentials.login.waiting")}</div>
      <div class="muted small">${t(expiresKey, { time: left })}</div>
    </div>
    <${Button} variant="ghost" size="sm" onClick=${onStop}>${t("credentials.login.stop")}<//>
  </div>`;
}

function finishedLogin(status, onAdded) {
  if (status.status === "complete") {
    toast(t("credentials.login.added_toast", { id: status.credential_id }));
    onAdded(status.credential_id);
  }
}

function DeviceLogin({ onAdded, onClose }) {
  const [kind, setKind] = useState("builder");
  const [startUrl, setStartUrl] = useState("");
  const [region, setRegion] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [login, setLogin] = useState(null);
  const [ended, setEnded] = useState(null);
  useLoginStatus(login && !ended ? login.login_id : null, login && login.interval, (status) => {
    setEnded(status);
    finishedLogin(status, onAdded);
  });

  async function start(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = kind === "idc" ? { start_url: startUrl.trim(), region: region.trim() || undefined } : undefined;
    try {
      const started = await api.post("/api/admin/logins/device", body);
      setLogin({ ...started, deadline: Date.now() + started.expires_in * 1000 });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  const reset = () => {
    setLogin(null);
    setEnded(null);
  };

  if (ended) return html`<${LoginDone} status=${ended} onAgain=${reset} onClose=${onClose} />`;
  if (login) {
    const link = login.verification_uri_complete || login.verification_uri;
    return html`<div class="cred-device stack" data-login=${login.login_id}>
      <p>${t("credentials.device.step1")}</p>
      <div class="cred-code-box">
        <div class="cred-code" aria-label=${t("credentials.device.code")} data-testid="user-code">${login.user_code}</div>
        <div class="row cred-code-actions">
          <${CopyButton} text=${login.user_code} label=${t("credentials.device.copy_code")} size="md" />
          <a class="btn btn-primary" href=${link} target="_blank" rel="noopener noreferrer">
            <span>${t("credentials.device.open")}</span><${Icon} name="external" size=${16} />
          </a>
        </div>
        <p class="muted small">${t("credentials.device.or", { uri: login.verification_uri })}</p>
      </div>
      <p>${t("credentials.device.step2")}</p>
      <${Waiting} deadline=${login.deadline} onStop=${reset} />
    </div>`;
  }
  return html`<form class="stack" onSubmit=${start}>
    <p class="muted">${t("credentials.device.intro")}</p>
    <div class="field">
      <span class="field-label" id="cred-device-kind">${t("credentials.device.kind")}</span>
      <${Segmented} label=${t("credentials.device.kind")} value=${kind} onChange=${setKind}
        options=${[["builder", t("credentials.device.builder")], ["idc", t("credentials.device.idc")]]} />
    </div>
    ${kind === "idc" && html`<div class="grid grid-2 cred-idc">
      <${Field} label=${t("credentials.device.start_url")} hint=${t("credentials.device.start_url_hint")}>
        ${(ids) => html`<${Input} ...${ids} type="url" required placeholder="https://d-1234567890.awsapps.com/start"
          value=${startUrl} onInput=${(event) => setStartUrl(event.target.value)} />`}
      <//>
      <${Field} label=${t("credentials.device.region")} hint=${t("credentials.device.region_hint")}>
        ${(ids) => html`<${Input} ...${ids} placeholder="us-east-1" value=${region} onInput=${(event) => setRegion(event.target.value)} />`}
      <//>
    </div>`}
    <${ErrorNote} error=${error} />
    <div class="row"><${Button} type="submit" variant="primary" icon="play" busy=${busy}>${t("credentials.device.start")}<//></div>
  </form>`;
}

function SocialLogin({ onAdded, onClose }) {
  const [provider, setProvider] = useState("google");
  const [callback, setCallback] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [login, setLogin] = useState(null);
  const [ended, setEnded] = useState(null);
  const [address, setAddress] = useState("");
  const [addressError, setAddressError] = useState(null);
  const name = provider === "google" ? "Google" : "GitHub";
  const end = (status) => {
    setEnded(status);
    finishedLogin(status, onAdded);
  };
  // Followed too when the address is pasted: the callback (or another console) may finish it.
  useLoginStatus(login && !ended ? login.login_id : null, 2, end);

  async function start(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = { provider };
    if (callback) body.redirect_uri = `${window.location.origin}${ROOT}/api/admin/logins/callback`;
    try {
      const started = await api.post("/api/admin/logins/social", body);
      setLogin({ ...started, callback, deadline: Date.now() + started.expires_in * 1000 });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  async function finish(event) {
    event.preventDefault();
    if (!address.trim()) {
      setAddressError(t("credentials.social.url_empty"));
      return;
    }
    setBusy(true);
    setAddressError(null);
    try {
      const status = await api.post(`/api/admin/logins/${login.login_id}/complete`, { url: address.trim() });
      if (status.status !== "pending") end(status);
    } catch (failure) {
      setAddressError(plainError(failure));
    } finally {
      setBusy(false);
    }
  }
  const reset = () => {
    setLogin(null);
    setEnded(null);
    setAddress("");
    setAddressError(null);
  };

  if (ended) return html`<${LoginDone} status=${ended} onAgain=${reset} onClose=${onClose} />`;
  if (login) {
    return html`<div class="stack cred-social" data-login=${login.login_id}>
      <p>${t("credentials.social.step1", { provider: name })}</p>
      <div><a class="btn btn-primary" href=${login.authorize_url} target="_blank" rel="noopener noreferrer">
        <span>${t("credentials.social.open", { provider: name })}</span><${Icon} name="external" size=${16} />
      </a></div>
      ${login.callback ? html`<p>${t("credentials.social.step2_callback")}</p>` : html`<form class="stack" onSubmit=${finish}>
        <p>${t("credentials.social.step2")}</p>
        <${Field} label=${t("credentials.social.url")} error=${addressError}>
          ${(ids) => html`<${Input} ...${ids} class="input mono" autocomplete="off" spellcheck="false"
            placeholder="kiro://kiro.kiroAgent/authenticate-success?code=…&state=…"
            value=${address} onInput=${(event) => setAddress(event.target.value)} />`}
        <//>
        <div class="row"><${Button} type="submit" variant="primary" icon="check" busy=${busy}>${t("credentials.social.finish")}<//></div>
      </form>`}
      <${Waiting} deadline=${login.deadline} onStop=${reset} expiresKey="credentials.login.expires_social" />
    </div>`;
  }
  return html`<form class="stack" onSubmit=${start}>
    <p class="muted">${t("credentials.social.intro")}</p>
    <div class="field">
      <span class="field-label">${t("credentials.social.provider")}</span>
      <${Segmented} label=${t("credentials.social.provider")} value=${provider} onChange=${setProvider}
        options=${[["google", "Google"], ["github", "GitHub"]]} />
    </div>
    <div class="cred-switch-row">
      <${Switch} id="cred-social-callback" checked=${callback} onChange=${setCallback} label=${t("credentials.social.callback")} />
      <div><label for="cred-social-callback">${t("credentials.social.callback")}</label>
        <p class="muted small">${t("credentials.social.callback_hint")}</p></div>
    </div>
    <${ErrorNote} error=${error} />
    <div class="row"><${Button} type="submit" variant="primary" icon="play" busy=${busy}>${t("credentials.social.start")}<//></div>
  </form>`;
}

// One line per item of a batch: what it is, how it went (a badge) and the details, stacked so
// it reads as well at a phone's width as on a desktop.
export function ResultList({ label, items, wide }) {
  return html`<ul class=${"cred-result-list" + (wide ? " wide" : "")} aria-label=${label}>
    ${items.map((item) => html`<li key=${item.key}>
      <span class="cred-result-title">${item.title}</span>
      <${Badge} tone=${item.tone}>${item.status}<//>
      <span class=${"cred-result-detail" + (item.bad ? " cred-reason" : "")}>${item.detail}</span>
    </li>`)}
  </ul>`;
}

// One result per imported item: what happened, and to which credential.
export function ImportResults({ result, describe }) {
  const tone = { added: "ok", duplicate: "info", invalid: "bad" };
  return html`<section class="stack cred-results" aria-label=${t("credentials.results.title")}>
    <div class="row">
      <h3>${t("credentials.results.title")}</h3>
      <${Badge} tone="ok">${t("credentials.results.added", { count: fmtNumber(result.added) })}<//>
      ${result.duplicates > 0 && html`<${Badge} tone="info">${t("credentials.results.duplicates", { count: fmtNumber(result.duplicates) })}<//>`}
      ${result.invalid > 0 && html`<${Badge} tone="bad">${t("credentials.results.invalid", { count: fmtNumber(result.invalid) })}<//>`}
    </div>
    <${ResultList} label=${t("credentials.results.table")} items=${result.results.map((row) => ({
      key: row.index,
      title: describe ? describe(row.index) : `#${row.index + 1}`,
      tone: tone[row.status],
      status: t("credentials.results.status." + row.status),
      bad: row.status === "invalid",
      detail: row.status === "invalid" ? row.reason
        : html`${t("credentials.results.credential", { id: row.id })}${row.email ? html` · <span class="muted">${row.email}</span>` : ""}`,
    }))} />
  </section>`;
}

// Sends an import and keeps its answer; tells the page when something was added.
function useImport(onAdded) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  async function send(body, headers, query) {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const answer = await api.post(IMPORT, body, { headers, query });
      setResult(answer);
      if (answer.added > 0) {
        toast(t("credentials.results.toast", { count: fmtNumber(answer.added) }));
        onAdded();
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, result, send, setError };
}

function JsonImport({ onAdded }) {
  const [text, setText] = useState("");
  const [problem, setProblem] = useState(null);
  const job = useImport(onAdded);
  function submit(event) {
    event.preventDefault();
    setProblem(null);
    if (!text.trim()) return setProblem(t("credentials.json.empty"));
    try {
      JSON.parse(text);
    } catch (error) {
      return setProblem(t("credentials.json.bad", { message: error.message }));
    }
    return job.send(text, { "content-type": "application/json" });
  }
  return html`<form class="stack" onSubmit=${submit}>
    <${Field} label=${t("credentials.json.label")} hint=${t("credentials.json.hint")} error=${problem}>
      ${(ids) => html`<${TextArea} ...${ids} class="input textarea mono cred-json" rows="10" spellcheck="false"
        placeholder='[{"refreshToken": "aorA…", "authMethod": "social"}]'
        value=${text} onInput=${(event) => setText(event.target.value)} />`}
    <//>
    <${ErrorNote} error=${job.error} />
    <div class="row"><${Button} type="submit" variant="primary" icon="upload" busy=${job.busy}>${t("credentials.json.import")}<//></div>
    ${job.result && html`<${ImportResults} result=${job.result} />`}
  </form>`;
}

function FileImport({ onAdded }) {
  const [file, setFile] = useState(null);
  const [over, setOver] = useState(false);
  const input = useRef(null);
  const job = useImport(onAdded);
  const pick = (files) => files && files[0] && setFile(files[0]);
  function submit(event) {
    event.preventDefault();
    if (!file) return input.current && input.current.click();
    // Sent as it is: the gateway tells JSON, token lists and SQLite apart by their content.
    return job.send(file, { "content-type": "application/octet-stream" });
  }
  return html`<form class="stack" onSubmit=${submit}>
    <div class=${"cred-drop" + (over ? " over" : "")}
      onDragOver=${(event) => { event.preventDefault(); setOver(true); }}
      onDragLeave=${() => setOver(false)}
      onDrop=${(event) => { event.preventDefault(); setOver(false); pick(event.dataTransfer.files); }}>
      <${Icon} name="upload" size=${28} />
      <div class="row cred-drop-line">
        <span>${t("credentials.file.drop")}</span>
        <${Button} size="sm" onClick=${() => input.current.click()}>${t("credentials.file.choose")}<//>
      </div>
      <input ref=${input} type="file" class="sr-only" aria-label=${t("credentials.file.label")} tabindex="-1"
        onChange=${(event) => pick(event.target.files)} />
      ${file && html`<div class="cred-file"><${Icon} name="check" size=${16} /> ${t("credentials.file.chosen", { name: file.name, size: fmtBytes(file.size) })}</div>`}
      <p class="muted small">${t("credentials.file.hint")}</p>
    </div>
    <${ErrorNote} error=${job.error} />
    <div class="row"><${Button} type="submit" variant="primary" icon="upload" busy=${job.busy} disabled=${!file}>${t("credentials.file.import")}<//></div>
    ${job.result && html`<${ImportResults} result=${job.result} />`}
  </form>`;
}

// The tokens of a pasted list, as the gateway would read them (blank lines and # skipped).
const tokenLines = (text) => text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line && !line.startsWith("#"));
// A token shown in results: its ends only, never the whole secret.
const preview = (token) => (token.length > 12 ? `${token.slice(0, 4)}…${token.slice(-4)}` : "…");

function TokenImport({ onAdded }) {
  const [text, setText] = useState("");
  const [method, setMethod] = useState("social");
  const [region, setRegion] = useState("");
  const [clientId, setClientId] = useState("");
  const [clientSecret, setClientSecret] = useState("");
  const [problem, setProblem] = useState(null);
  const [sent, setSent] = useState([]);
  const job = useImport(onAdded);
  const tokens = tokenLines(text);
  function submit(event) {
    event.preventDefault();
    setProblem(null);
    if (!tokens.length) return setProblem(t("credentials.tokens.empty"));
    setSent(tokens);
    const body = { refresh_tokens: tokens, auth_method: method, region: region.trim() || undefined };
    if (method !== "social") Object.assign(body, { client_id: clientId.trim(), client_secret: clientSecret.trim() });
    return job.send(body);
  }
  return html`<form class="stack" onSubmit=${submit}>
    <${Field} label=${t("credentials.tokens.label")} hint=${`${t("credentials.tokens.hint")} ${t("credentials.tokens.count", { count: fmtNumber(tokens.length) })}`} error=${problem}>
      ${(ids) => html`<${TextArea} ...${ids} class="input textarea mono" rows="6" spellcheck="false" autocomplete="off"
        placeholder="aorA…" value=${text} onInput=${(event) => setText(event.target.value)} />`}
    <//>
    <div class="grid grid-2">
      <${Field} label=${t("credentials.tokens.method")}>
        ${(ids) => html`<${Select} ...${ids} value=${method} onChange=${setMethod} options=${[
          ["social", t("credentials.tokens.method.social")],
          ["builder-id", t("credentials.tokens.method.builder")],
          ["iam", t("credentials.tokens.method.iam")],
        ]} />`}
      <//>
      <${Field} label=${t("credentials.tokens.region")}>
        ${(ids) => html`<${Input} ...${ids} placeholder="us-east-1" value=${region} onInput=${(event) => setRegion(event.target.value)} />`}
      <//>
    </div>
    ${method !== "social" && html`<div class="stack">
      <p class="muted small">${t("credentials.tokens.client_hint")}</p>
      <div class="grid grid-2">
        <${Field} label=${t("credentials.tokens.client_id")}>
          ${(ids) => html`<${Input} ...${ids} required autocomplete="off" value=${clientId} onInput=${(event) => setClientId(event.target.value)} />`}
        <//>
        <${Field} label=${t("credentials.tokens.client_secret")}>
          ${(ids) => html`<${Input} ...${ids} type="password" required autocomplete="off" value=${clientSecret} onInput=${(event) => setClientSecret(event.target.value)} />`}
        <//>
      </div>
    </div>`}
    <${ErrorNote} error=${job.error} />
    <div class="row"><${Button} type="submit" variant="primary" icon="upload" busy=${job.busy}>${t("credentials.tokens.import")}<//></div>
    ${job.result && html`<${ImportResults} result=${job.result} describe=${(index) => `${index + 1}. ${preview(sent[index] || "")}`} />`}
  </form>`;
}

const PANELS = { device: DeviceLogin, social: SocialLogin, json: JsonImport, file: FileImport, tokens: TokenImport };

export function AddDialog({ open, tab, onTab, onClose, onAdded }) {
  const Panel = PANELS[tab] || DeviceLogin;
  return html`<${Modal} open=${open} wide title=${t("credentials.add.title")} onClose=${onClose}>
    <${Tabs} label=${t("credentials.add.tabs")} value=${tab} onChange=${onTab} tabs=${Object.keys(PANELS).map((name) => [name, t("credentials.add.tab." + name)])} />
    <div class="cred-panel" key=${tab}><${Panel} onAdded=${onAdded} onClose=${onClose} /></div>
  <//>`;
}
