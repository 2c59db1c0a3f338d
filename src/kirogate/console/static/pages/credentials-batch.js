// Batch work on the credentials page: a verify job followed live (progress and one result per
// credential), and the export, downloaded as a file (with secrets only after a confirmation).
import { html, useState, useEffect } from "../lib/preact.js";
import { api } from "../lib/api.js";
import { t, register, fmtNumber, fmtPercent, fmtDuration } from "../lib/i18n.js";
import { Icon } from "../lib/icons.js";
import { ResultList } from "./credentials-add.js";
import { Modal, Button, ErrorNote, Spinner, confirmAction, toast } from "../lib/ui.js";

register({
  en: {
    "credentials.verify.title": "Verify credentials",
    "credentials.verify.intro": "Each credential refreshes its token and asks for its balance, as a request would.",
    "credentials.verify.starting": "Starting…",
    "credentials.verify.progress": "Progress",
    "credentials.verify.running": "Checked {done} of {total}…",
    "credentials.verify.finished": "Checked {total} in {time}: {ok} working, {bad} failed.",
    "credentials.verify.results": "One result per credential",
    "credentials.verify.ok": "Working",
    "credentials.verify.bad": "Failed",
    "credentials.verify.left": "{remaining} of {limit} left",
    "credentials.verify.no_balance": "no balance given",
    "credentials.verify.toast": "Verified: {ok} working, {bad} failed",
    "credentials.verify.close": "Close",
    "credentials.export.title": "Export credentials",
    "credentials.export.intro": "Downloads the pool as a JSON file.",
    "credentials.export.plain": "Without secrets",
    "credentials.export.plain_text": "Emails, methods, priorities, regions and states. Safe to share, but it cannot be imported again.",
    "credentials.export.secrets": "With secrets",
    "credentials.export.secrets_text": "Also the refresh tokens, keys and proxy passwords, so another gateway can import it. Anyone holding the file can use these accounts.",
    "credentials.export.download": "Download",
    "credentials.export.download_secrets": "Download with secrets",
    "credentials.export.confirm_title": "Export the secrets?",
    "credentials.export.confirm_text": "The file will hold every credential's tokens in plain text, and the export is recorded in the audit trail. Keep the file somewhere only you can read, and delete it when you are done.",
    "credentials.export.confirm": "Export with secrets",
    "credentials.export.done": "Saved {file}",
  },
  "zh-CN": {
    "credentials.verify.title": "验证凭证",
    "credentials.verify.intro": "每个凭证都会像处理请求时一样刷新令牌并查询余额。",
    "credentials.verify.starting": "正在启动…",
    "credentials.verify.progress": "进度",
    "credentials.verify.running": "已检查 {done} / {total}…",
    "credentials.verify.finished": "{time} 内检查了 {total} 个：{ok} 个正常，{bad} 个失败。",
    "credentials.verify.results": "逐个凭证的结果",
    "credentials.verify.ok": "正常",
    "credentials.verify.bad": "失败",
    "credentials.verify.left": "剩余 {remaining} / {limit}",
    "credentials.verify.no_balance": "未返回余额",
    "credentials.verify.toast": "验证完成：{ok} 个正常，{bad} 个失败",
    "credentials.verify.close": "关闭",
    "credentials.export.title": "导出凭证",
    "credentials.export.intro": "将凭证池下载为 JSON 文件。",
    "credentials.export.plain": "不含密钥",
    "credentials.export.plain_text": "包含邮箱、登录方式、优先级、区域和状态。可以放心分享，但无法再次导入。",
    "credentials.export.secrets": "包含密钥",
    "credentials.export.secrets_text": "还包含刷新令牌、密钥和代理密码，可导入到其他网关。任何拿到该文件的人都能使用这些账号。",
    "credentials.export.download": "下载",
    "credentials.export.download_secrets": "下载（含密钥）",
    "credentials.export.confirm_title": "导出密钥？",
    "credentials.export.confirm_text": "文件将以明文保存所有凭证的令牌，且此次导出会记入审计日志。请将文件保存在只有你能读取的位置，用完后删除。",
    "credentials.export.confirm": "导出密钥",
    "credentials.export.done": "已保存 {file}",
  },
});

const POLL_MS = 600;

// Starts a verify job for `target` ({all: true} or {ids}) and follows it until it is done.
function useVerifyJob(target, onDone) {
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    let timer = null;
    const follow = async (id) => {
      try {
        const current = await api.get(`/api/admin/jobs/${id}`);
        if (stopped) return;
        setJob(current);
        if (current.status === "done") {
          const ok = current.results.filter((item) => item.ok).length;
          toast(t("credentials.verify.toast", { ok: fmtNumber(ok), bad: fmtNumber(current.results.length - ok) }), ok === current.results.length ? "ok" : "info");
          onDone();
          return;
        }
      } catch (failure) {
        if (!stopped) setError(failure);
        return;
      }
      timer = setTimeout(() => follow(id), POLL_MS);
    };
    api.post("/api/admin/credentials/verify", target).then(
      (started) => {
        if (stopped) return;
        setJob({ id: started.jobId, status: started.status, total: started.total, done: 0, results: [] });
        follow(started.jobId);
      },
      (failure) => !stopped && setError(failure),
    );
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  return { job, error };
}

// A progress bar in the accent colour (the shared Meter turns red as it fills: it is for quotas).
function Progress({ value, max, label }) {
  const ratio = max ? Math.min(1, value / max) : 0;
  return html`<div class="cred-progress">
    <div class="meter-track" role="progressbar" aria-label=${label} aria-valuemin="0" aria-valuemax=${max} aria-valuenow=${value}>
      <div class="meter-fill cred-progress-fill" style=${{ width: `${Math.round(ratio * 1000) / 10}%` }}></div>
    </div>
    <div class="meter-text"><span>${t("ui.of", { used: fmtNumber(value), limit: fmtNumber(max) })}</span><span class="muted">${fmtPercent(ratio, 0)}</span></div>
  </div>`;
}

function VerifyResult({ item }) {
  if (!item.ok) return item.error;
  const balance = item.balance;
  if (!balance || balance.usageLimit === undefined) return html`<span class="muted">${t("credentials.verify.no_balance")}</span>`;
  return html`<span>${t("credentials.verify.left", { remaining: fmtNumber(balance.remaining, 1), limit: fmtNumber(balance.usageLimit, 1) })}</span>`;
}

export function VerifyDialog({ target, nameOf, onClose, onDone }) {
  const { job, error } = useVerifyJob(target, onDone);
  const done = job && job.status === "done";
  const ok = job ? job.results.filter((item) => item.ok).length : 0;
  const elapsed = done && job.finishedAt && job.startedAt ? fmtDuration((job.finishedAt - job.startedAt) * 1000) : "";
  return html`<${Modal} open=${true} wide title=${t("credentials.verify.title")} onClose=${onClose}
    footer=${html`<${Button} variant=${done ? "primary" : "secondary"} onClick=${onClose}>${t("credentials.verify.close")}<//>`}>
    <p class="muted">${t("credentials.verify.intro")}</p>
    <${ErrorNote} error=${error} />
    ${!job && !error && html`<div class="cred-waiting"><${Spinner} /><span>${t("credentials.verify.starting")}</span></div>`}
    ${job && html`<div class="stack cred-verify">
      <${Progress} value=${job.done} max=${job.total} label=${t("credentials.verify.progress")} />
      <p role="status" class="cred-verify-status">${done
        ? t("credentials.verify.finished", { total: fmtNumber(job.total), time: elapsed, ok: fmtNumber(ok), bad: fmtNumber(job.results.length - ok) })
        : t("credentials.verify.running", { done: fmtNumber(job.done), total: fmtNumber(job.total) })}</p>
      ${job.results.length > 0 && html`<${ResultList} wide label=${t("credentials.verify.results")} items=${job.results.map((item) => ({
        key: item.id,
        title: html`${nameOf(item.id)} <span class="muted small">#${item.id}</span>`,
        tone: item.ok ? "ok" : "bad",
        status: t(item.ok ? "credentials.verify.ok" : "credentials.verify.bad"),
        bad: !item.ok,
        detail: html`<${VerifyResult} item=${item} />`,
      }))} />`}
    </div>`}
  <//>`;
}

// Saves a response body as a file, through an object URL (the JSON never shows on screen).
async function saveAs(response, file) {
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = file;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

export function ExportDialog({ onClose }) {
  const [busy, setBusy] = useState("");
  const [error, setError] = useState(null);
  async function download(secrets) {
    if (secrets) {
      const sure = await confirmAction({
        title: t("credentials.export.confirm_title"),
        text: t("credentials.export.confirm_text"),
        confirm: t("credentials.export.confirm"),
      });
      if (!sure) return;
    }
    setBusy(secrets ? "secrets" : "plain");
    setError(null);
    try {
      const response = await api.get("/api/admin/credentials/export", secrets ? { secrets: "true" } : undefined, {
        raw: true,
        headers: secrets ? { "x-kirogate-confirm": "export-secrets" } : undefined,
      });
      const stamp = new Date().toISOString().slice(0, 10);
      const file = `kirogate-credentials-${stamp}${secrets ? "-secrets" : ""}.json`;
      await saveAs(response, file);
      toast(t("credentials.export.done", { file }));
      onClose();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy("");
    }
  }
  return html`<${Modal} open=${true} title=${t("credentials.export.title")} onClose=${onClose}>
    <p class="muted">${t("credentials.export.intro")}</p>
    <${ErrorNote} error=${error} />
    <div class="cred-export-option">
      <div class="cred-export-icon"><${Icon} name="download" /></div>
      <div class="stack-tight">
        <h3>${t("credentials.export.plain")}</h3>
        <p class="muted small">${t("credentials.export.plain_text")}</p>
        <div><${Button} variant="primary" icon="download" busy=${busy === "plain"} onClick=${() => download(false)}>${t("credentials.export.download")}<//></div>
      </div>
    </div>
    <div class="cred-export-option cred-export-danger">
      <div class="cred-export-icon"><${Icon} name="alert" /></div>
      <div class="stack-tight">
        <h3>${t("credentials.export.secrets")}</h3>
        <p class="muted small">${t("credentials.export.secrets_text")}</p>
        <div><${Button} icon="download" busy=${busy === "secrets"} onClick=${() => download(true)}>${t("credentials.export.download_secrets")}<//></div>
      </div>
    </div>
  <//>`;
}
