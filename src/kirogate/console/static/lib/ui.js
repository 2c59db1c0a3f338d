// The console's building blocks: every page is made of these, so spacing, type and behaviour
// stay the same everywhere. Each control is labelled and reachable by keyboard.
import { html, render, useState, useEffect, useRef, useCallback, useId } from "./preact.js";
import { Icon } from "./icons.js";
import { t, register, fmtNumber, fmtPercent } from "./i18n.js";
import { ApiError, ROOT } from "./api.js";

// A page's own stylesheet (static/pages/<name>.css), linked once when the page first shows.
const linkedStyles = new Set();
export function loadStyle(path) {
  if (linkedStyles.has(path)) return;
  linkedStyles.add(path);
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = `${ROOT}/admin/static/${path}`;
  document.head.appendChild(link);
}

register({
  en: {
    "ui.loading": "Loading…",
    "ui.retry": "Try again",
    "ui.close": "Close",
    "ui.cancel": "Cancel",
    "ui.confirm": "Confirm",
    "ui.copy": "Copy",
    "ui.copied": "Copied",
    "ui.previous": "Previous",
    "ui.next": "Next",
    "ui.page_of": "Page {page} of {pages}",
    "ui.rows": "{count} rows",
    "ui.nothing": "Nothing here yet.",
    "ui.of": "{used} of {limit}",
    "ui.unlimited": "no limit",
    "ui.error.network": "The gateway did not answer. Is kirogate still running?",
    "ui.error.generic": "Something went wrong: {message}",
    "ui.error.forbidden": "Not allowed: {message}",
    "ui.error.limited": "Too many attempts: {message}",
    "ui.error.store": "The database is unavailable right now: {message}",
    "ui.dismiss": "Dismiss notification",
  },
  "zh-CN": {
    "ui.loading": "加载中…",
    "ui.retry": "重试",
    "ui.close": "关闭",
    "ui.cancel": "取消",
    "ui.confirm": "确认",
    "ui.copy": "复制",
    "ui.copied": "已复制",
    "ui.previous": "上一页",
    "ui.next": "下一页",
    "ui.page_of": "第 {page} / {pages} 页",
    "ui.rows": "共 {count} 行",
    "ui.nothing": "暂无内容。",
    "ui.of": "{used} / {limit}",
    "ui.unlimited": "不限",
    "ui.error.network": "网关没有响应。kirogate 还在运行吗？",
    "ui.error.generic": "出错了：{message}",
    "ui.error.forbidden": "不允许：{message}",
    "ui.error.limited": "尝试次数过多：{message}",
    "ui.error.store": "数据库暂时不可用：{message}",
    "ui.dismiss": "关闭通知",
  },
});

const cx = (...names) => names.filter(Boolean).join(" ");

// ---- errors in plain words

export function plainError(error) {
  if (!error) return "";
  if (error instanceof ApiError) {
    if (error.status === 0) return t("ui.error.network");
    if (error.status === 403) return t("ui.error.forbidden", { message: error.message });
    if (error.status === 429) return t("ui.error.limited", { message: error.message });
    if (error.status === 503) return t("ui.error.store", { message: error.message });
    return error.message;
  }
  return t("ui.error.generic", { message: error.message || String(error) });
}

export function ErrorNote({ error, retry }) {
  if (!error) return null;
  return html`<div class="note note-bad" role="alert">
    <${Icon} name="alert" />
    <span>${plainError(error)}</span>
    ${retry && html`<${Button} variant="ghost" size="sm" onClick=${retry}>${t("ui.retry")}<//>`}
  </div>`;
}

export function Note({ tone = "info", children }) {
  return html`<div class=${cx("note", "note-" + tone)}><${Icon} name=${tone === "bad" || tone === "warn" ? "alert" : "info"} /><div>${children}</div></div>`;
}

// ---- data loading

// { data, error, loading, reload, setData } for an async loader, re-run when deps change.
export function useAsync(loader, deps = []) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const generation = useRef(0);
  const run = useCallback(async () => {
    const mine = ++generation.current;
    setState((previous) => ({ ...previous, loading: true }));
    try {
      const data = await loader();
      if (mine === generation.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === generation.current) setState((previous) => ({ ...previous, error, loading: false }));
    }
  }, deps);
  useEffect(() => {
    run();
  }, [run]);
  const setData = (data) => setState((previous) => ({ ...previous, data: typeof data === "function" ? data(previous.data) : data }));
  return { ...state, reload: run, setData };
}

// Calls fn every `ms` while the page is visible.
export function useInterval(fn, ms) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!ms) return undefined;
    const id = setInterval(() => {
      if (!document.hidden) saved.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

// ---- layout

export function PageHeader({ title, subtitle, actions }) {
  return html`<header class="page-header">
    <div><h1>${title}</h1>${subtitle && html`<p class="muted">${subtitle}</p>`}</div>
    ${actions && html`<div class="actions">${actions}</div>`}
  </header>`;
}

export function Card({ title, subtitle, actions, children, className, id }) {
  const headingId = useId();
  return html`<section class=${cx("card", className)} id=${id} aria-labelledby=${title ? headingId : undefined}>
    ${(title || actions) &&
    html`<div class="card-head">
      <div>${title && html`<h2 id=${headingId}>${title}</h2>`}${subtitle && html`<p class="muted small">${subtitle}</p>`}</div>
      ${actions && html`<div class="actions">${actions}</div>`}
    </div>`}
    ${children}
  </section>`;
}

export function Stat({ label, value, hint, tone }) {
  return html`<div class=${cx("stat", tone && "stat-" + tone)}>
    <div class="stat-label">${label}</div>
    <div class="stat-value">${value}</div>
    ${hint && html`<div class="stat-hint">${hint}</div>`}
  </div>`;
}

export function Badge({ tone = "muted", children, title }) {
  return html`<span class=${cx("badge", "badge-" + tone)} title=${title}>${children}</span>`;
}

export function Empty({ icon = "info", title, text, action }) {
  return html`<div class="empty">
    <div class="empty-icon"><${Icon} name=${icon} size=${28} /></div>
    <p class="empty-title">${title || t("ui.nothing")}</p>
    ${text && html`<p class="muted">${text}</p>`}
    ${action && html`<div class="empty-action">${action}</div>`}
  </div>`;
}

export function Spinner({ label }) {
  return html`<span class="spinner" role="status"><span class="spinner-ring" aria-hidden="true"></span><span class="sr-only">${label || t("ui.loading")}</span></span>`;
}

export function Loading() {
  return html`<div class="loading"><${Spinner} /> <span class="muted">${t("ui.loading")}</span></div>`;
}

// A usage bar: `value` of `max` (no max: an unlimited bar), toned by how full it is.
export function Meter({ value, max, label, showText = true, format = fmtNumber }) {
  const ratio = max ? Math.min(1, (value || 0) / max) : 0;
  const tone = !max ? "muted" : ratio >= 0.9 ? "bad" : ratio >= 0.7 ? "warn" : "ok";
  const text = max ? t("ui.of", { used: format(value || 0), limit: format(max) }) : `${format(value || 0)} · ${t("ui.unlimited")}`;
  return html`<div class="meter">
    <div class="meter-track" role="progressbar" aria-label=${label} aria-valuemin="0"
      aria-valuemax=${max || 100} aria-valuenow=${max ? Math.min(value || 0, max) : 0} aria-valuetext=${text}>
      <div class=${cx("meter-fill", "tone-" + tone)} style=${{ width: fmtPercentWidth(ratio) }}></div>
    </div>
    ${showText && html`<div class="meter-text"><span>${text}</span>${max ? html`<span class="muted">${fmtPercent(ratio, 0)}</span>` : null}</div>`}
  </div>`;
}

function fmtPercentWidth(ratio) {
  return `${Math.round(ratio * 1000) / 10}%`;
}

// ---- controls

export function Button({ variant = "secondary", size, icon, busy, children, className, type = "button", ...props }) {
  return html`<button type=${type} class=${cx("btn", "btn-" + variant, size && "btn-" + size, className)}
    disabled=${busy || props.disabled} aria-busy=${busy ? "true" : undefined} ...${props}>
    ${busy ? html`<span class="spinner-ring small" aria-hidden="true"></span>` : icon && html`<${Icon} name=${icon} size=${16} />`}
    ${children && html`<span>${children}</span>`}
  </button>`;
}

export function IconButton({ icon, label, className, ...props }) {
  return html`<button type="button" class=${cx("btn btn-ghost btn-icon", className)} aria-label=${label} title=${label} ...${props}>
    <${Icon} name=${icon} size=${18} />
  </button>`;
}

// A labelled field: the control gets the label's id; hint and error are announced with it.
export function Field({ label, hint, error, children, className, inline }) {
  const id = useId();
  const describedBy = [hint && id + "-hint", error && id + "-error"].filter(Boolean).join(" ") || undefined;
  const control = typeof children === "function" ? children({ id, "aria-describedby": describedBy, "aria-invalid": error ? "true" : undefined }) : children;
  return html`<div class=${cx("field", inline && "field-inline", error && "field-error", className)}>
    <label for=${id}>${label}</label>
    ${control}
    ${hint && html`<p class="hint" id=${id + "-hint"}>${hint}</p>`}
    ${error && html`<p class="error-text" id=${id + "-error"}>${error}</p>`}
  </div>`;
}

export function Input(props) {
  return html`<input class="input" ...${props} />`;
}

export function TextArea(props) {
  return html`<textarea class="input textarea" ...${props}></textarea>`;
}

export function Select({ options, value, onChange, ...props }) {
  return html`<select class="input select" value=${value} onChange=${(event) => onChange && onChange(event.target.value)} ...${props}>
    ${options.map((option) => {
      const [optionValue, label] = Array.isArray(option) ? option : [option, option];
      return html`<option value=${optionValue} selected=${String(optionValue) === String(value)}>${label}</option>`;
    })}
  </select>`;
}

export function Switch({ checked, onChange, label, disabled, id }) {
  return html`<button type="button" role="switch" id=${id} class=${cx("switch", checked && "on")} aria-checked=${checked ? "true" : "false"}
    aria-label=${label} disabled=${disabled} onClick=${() => onChange(!checked)}><span class="switch-knob" aria-hidden="true"></span></button>`;
}

// A row of choices (a range picker, a dialect), keyboard-usable as radio buttons.
export function Segmented({ options, value, onChange, label }) {
  return html`<div class="segmented" role="radiogroup" aria-label=${label}>
    ${options.map(([optionValue, text]) => html`<button type="button" role="radio" aria-checked=${optionValue === value ? "true" : "false"}
      tabindex=${optionValue === value ? 0 : -1} class=${optionValue === value ? "active" : ""}
      onClick=${() => onChange(optionValue)}
      onKeyDown=${(event) => {
        const index = options.findIndex(([item]) => item === value);
        const step = event.key === "ArrowRight" || event.key === "ArrowDown" ? 1 : event.key === "ArrowLeft" || event.key === "ArrowUp" ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        const next = options[(index + step + options.length) % options.length][0];
        onChange(next);
        requestAnimationFrame(() => event.currentTarget?.parentElement?.querySelector('[aria-checked="true"]')?.focus());
      }}>${text}</button>`)}
  </div>`;
}

// Tabs: Tab reaches the chosen one, arrow keys (and Home/End) move between them.
export function Tabs({ tabs, value, onChange, label }) {
  function onKeyDown(event) {
    const index = tabs.findIndex(([item]) => item === value);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length][0];
    onChange(next);
    const list = event.currentTarget;
    requestAnimationFrame(() => list.querySelector('[aria-selected="true"]')?.focus());
  }
  return html`<div class="tabs" role="tablist" aria-label=${label} onKeyDown=${onKeyDown}>
    ${tabs.map(([tabValue, text]) => html`<button type="button" role="tab" aria-selected=${tabValue === value ? "true" : "false"}
      tabindex=${tabValue === value ? 0 : -1} class=${tabValue === value ? "active" : ""} onClick=${() => onChange(tabValue)}>${text}</button>`)}
  </div>`;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

export function CopyButton({ text, label, size = "sm" }) {
  const [done, setDone] = useState(false);
  return html`<${Button} size=${size} icon=${done ? "check" : "copy"} onClick=${async () => {
    await copyText(text);
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  }}>${done ? t("ui.copied") : label || t("ui.copy")}<//>`;
}

// A block of text to copy (a key, a snippet).
export function CodeBlock({ text, label }) {
  return html`<div class="code-block">
    <pre tabindex="0" aria-label=${label}><code>${text}</code></pre>
    <div class="code-copy"><${CopyButton} text=${text} /></div>
  </div>`;
}

// ---- tables

// columns: [{ key, label, render(row), align, className }]; rows: array; empty: what to show when none.
export function Table({ columns, rows, empty, rowKey = (row) => row.id, onRow, caption, selectedKey }) {
  if (!rows || rows.length === 0) return empty || html`<${Empty} />`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${caption || t("ui.rows", { count: rows.length })}>
    <table class="table">
      ${caption && html`<caption class="sr-only">${caption}</caption>`}
      <thead><tr>${columns.map((column) => html`<th scope="col" class=${cx(column.align && "align-" + column.align, column.className)}>${column.label}</th>`)}</tr></thead>
      <tbody>
        ${rows.map((row) => html`<tr key=${rowKey(row)} class=${cx(onRow && "clickable", selectedKey !== undefined && rowKey(row) === selectedKey && "selected")}
          onClick=${onRow ? () => onRow(row) : undefined}>
          ${columns.map((column) => html`<td class=${cx(column.align && "align-" + column.align, column.className)} data-label=${typeof column.label === "string" ? column.label : undefined}>
            ${column.render ? column.render(row) : row[column.key] ?? "–"}</td>`)}
        </tr>`)}
      </tbody>
    </table>
  </div>`;
}

export function Pagination({ page, pages, onPage }) {
  if (!pages || pages <= 1) return null;
  return html`<nav class="pagination" aria-label=${t("ui.page_of", { page, pages })}>
    <${Button} size="sm" disabled=${page <= 1} onClick=${() => onPage(page - 1)}>${t("ui.previous")}<//>
    <span class="muted small">${t("ui.page_of", { page, pages })}</span>
    <${Button} size="sm" disabled=${page >= pages} onClick=${() => onPage(page + 1)}>${t("ui.next")}<//>
  </nav>`;
}

// ---- dialogs

// A modal dialog on the native <dialog>: focus stays inside, Escape closes it.
export function Modal({ open, title, onClose, children, footer, wide }) {
  const ref = useRef(null);
  const headingId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return html`<dialog ref=${ref} class=${cx("modal", wide && "modal-wide")} aria-labelledby=${headingId}
    onClose=${() => open && onClose && onClose()}
    onClick=${(event) => event.target === ref.current && onClose && onClose()}>
    ${open && html`<div class="modal-body">
      <div class="modal-head"><h2 id=${headingId}>${title}</h2><${IconButton} icon="close" label=${t("ui.close")} onClick=${onClose} /></div>
      <div class="modal-content">${children}</div>
      ${footer && html`<div class="modal-foot">${footer}</div>`}
    </div>`}
  </dialog>`;
}

let dialogHost = null;

// await confirmAction({ title, text, confirm, danger }) -> true when the operator confirmed.
export function confirmAction({ title, text, confirm, danger = true }) {
  if (!dialogHost) {
    dialogHost = document.createElement("div");
    document.body.appendChild(dialogHost);
  }
  return new Promise((resolve) => {
    const done = (answer) => {
      render(null, dialogHost);
      resolve(answer);
    };
    render(
      html`<${Modal} open=${true} title=${title} onClose=${() => done(false)}
        footer=${html`<${Button} onClick=${() => done(false)}>${t("ui.cancel")}<//>
          <${Button} variant=${danger ? "danger" : "primary"} onClick=${() => done(true)} autofocus>${confirm || t("ui.confirm")}<//>`}>
        <p>${text}</p>
      <//>`,
      dialogHost,
    );
  });
}

// ---- notifications

let toastHost = null;
let toasts = [];
let toastSeq = 0;

function drawToasts() {
  render(
    html`${toasts.map((item) => html`<div key=${item.id} class=${cx("toast", "toast-" + item.tone)}>
      <${Icon} name=${item.tone === "bad" ? "alert" : "check"} />
      <span>${item.message}</span>
      <${IconButton} icon="close" label=${t("ui.dismiss")} onClick=${() => dismiss(item.id)} />
    </div>`)}`,
    toastHost,
  );
}

function dismiss(id) {
  toasts = toasts.filter((item) => item.id !== id);
  drawToasts();
}

// toast(message, "ok" | "bad" | "info"): a short notice, announced to screen readers.
export function toast(message, tone = "ok") {
  if (!toastHost) {
    toastHost = document.createElement("div");
    toastHost.className = "toasts";
    toastHost.setAttribute("aria-live", "polite");
    toastHost.setAttribute("role", "status");
    document.body.appendChild(toastHost);
  }
  const id = ++toastSeq;
  toasts = [...toasts, { id, message: typeof message === "string" ? message : plainError(message), tone }];
  drawToasts();
  setTimeout(() => dismiss(id), tone === "bad" ? 8000 : 4000);
}

// Runs an action, showing its error as a toast; returns whether it worked.
export async function attempt(action, success) {
  try {
    await action();
    if (success) toast(success, "ok");
    return true;
  } catch (error) {
    toast(plainError(error), "bad");
    return false;
  }
}
