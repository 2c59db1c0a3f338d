// The console's shell: sign-in, the navigation, the theme and language, and the page the
// address names (each page is its own module under pages/, loaded when first shown).
import { html, render, useState, useEffect } from "./lib/preact.js";
import { api, setSession, whenSignedOut, ApiError } from "./lib/api.js";
import { t, register, lang, setLang, onLangChange, LANGUAGES } from "./lib/i18n.js";
import { Icon } from "./lib/icons.js";
import { Button, Field, Input, IconButton, Loading, ErrorNote, plainError, Select } from "./lib/ui.js";
import { BASE, current, navigate, href, onNavigate, session } from "./lib/router.js";

register({
  en: {
    "app.name": "kirogate",
    "app.console": "Console",
    "nav.label": "Main",
    "nav.overview": "Overview",
    "nav.credentials": "Credentials",
    "nav.playground": "Playground",
    "nav.logs": "Logs",
    "nav.keys": "API keys",
    "nav.addresses": "Addresses",
    "nav.settings": "Settings",
    "nav.connect": "Connect a client",
    "nav.audit": "Audit",
    "nav.menu": "Menu",
    "nav.close_menu": "Close menu",
    "nav.group.monitor": "Monitor",
    "nav.group.manage": "Manage",
    "nav.group.use": "Use",
    "theme.toggle": "Switch theme",
    "theme.light": "Light theme",
    "theme.dark": "Dark theme",
    "lang.label": "Language",
    "signout": "Sign out",
    "signin.title": "Sign in to kirogate",
    "signin.subtitle": "Use the gateway's admin key.",
    "signin.key": "Admin key",
    "signin.submit": "Sign in",
    "signin.wrong": "That is not the admin key.",
    "signin.where": "kirogate serve printed it when it started; kirogate config show says where it is kept.",
    "signin.off": "The console is off: start kirogate with an admin key.",
    "announcement": "Announcement",
    "page.missing": "There is no such page.",
    "page.failed": "This page could not be loaded: {message}",
    "skip": "Skip to content",
  },
  "zh-CN": {
    "app.name": "kirogate",
    "app.console": "控制台",
    "nav.label": "主导航",
    "nav.overview": "概览",
    "nav.credentials": "凭证",
    "nav.playground": "调试台",
    "nav.logs": "日志",
    "nav.keys": "API 密钥",
    "nav.addresses": "IP 地址",
    "nav.settings": "设置",
    "nav.connect": "接入客户端",
    "nav.audit": "审计",
    "nav.menu": "菜单",
    "nav.close_menu": "关闭菜单",
    "nav.group.monitor": "监控",
    "nav.group.manage": "管理",
    "nav.group.use": "使用",
    "theme.toggle": "切换主题",
    "theme.light": "浅色主题",
    "theme.dark": "深色主题",
    "lang.label": "语言",
    "signout": "退出登录",
    "signin.title": "登录 kirogate",
    "signin.subtitle": "使用网关的管理密钥。",
    "signin.key": "管理密钥",
    "signin.submit": "登录",
    "signin.wrong": "管理密钥不正确。",
    "signin.where": "kirogate serve 启动时会打印它；kirogate config show 会告诉你它保存在哪里。",
    "signin.off": "控制台未开启：请为 kirogate 设置管理密钥后再启动。",
    "announcement": "公告",
    "page.missing": "没有这个页面。",
    "page.failed": "页面加载失败：{message}",
    "skip": "跳到正文",
  },
});

// Navigation, grouped; each entry's module is pages/<name>.js.
const NAV = [
  ["nav.group.monitor", [["overview", "overview"], ["logs", "logs"], ["audit", "audit"]]],
  ["nav.group.manage", [["credentials", "credentials"], ["keys", "keys"], ["addresses", "addresses"], ["settings", "settings"]]],
  ["nav.group.use", [["playground", "playground"], ["connect", "connect"]]],
];
const PAGE_NAMES = NAV.flatMap(([, items]) => items.map(([name]) => name));

// Fetch (without running) the page the address names while the session is being checked.
const firstPage = current().page;
if (PAGE_NAMES.includes(firstPage)) {
  const link = document.createElement("link");
  link.rel = "modulepreload";
  link.href = `${BASE}/static/pages/${firstPage}.js`;
  document.head.appendChild(link);
}

// ---- theme: follows the system until the operator picks one

const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

function resolvedTheme() {
  const chosen = localStorage.getItem("kirogate.theme");
  if (chosen === "light" || chosen === "dark") return chosen;
  return darkQuery.matches ? "dark" : "light";
}

function applyTheme() {
  document.documentElement.dataset.theme = resolvedTheme();
  window.dispatchEvent(new Event("kirogate-theme"));
}

applyTheme();
darkQuery.addEventListener("change", applyTheme);

function ThemeToggle() {
  const [theme, setTheme] = useState(resolvedTheme());
  const next = theme === "dark" ? "light" : "dark";
  return html`<${IconButton} icon=${theme === "dark" ? "sun" : "moon"} label=${t(next === "dark" ? "theme.dark" : "theme.light")}
    className="theme-toggle" onClick=${() => {
      localStorage.setItem("kirogate.theme", next);
      applyTheme();
      setTheme(next);
    }} />`;
}

function LanguagePicker() {
  return html`<label class="lang-picker">
    <span class="sr-only">${t("lang.label")}</span>
    <${Icon} name="language" size=${16} />
    <${Select} options=${Object.entries(LANGUAGES)} value=${lang()} onChange=${setLang} aria-label=${t("lang.label")} />
  </label>`;
}

// ---- sign-in

function SignIn({ onSignedIn, off }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api.post("/admin/session", { key }));
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 401 ? t("signin.wrong") : plainError(failure));
      setBusy(false);
    }
  }
  return html`<main class="signin" id="main">
    <div class="signin-tools"><${LanguagePicker} /><${ThemeToggle} /></div>
    <form class="signin-card card" onSubmit=${submit}>
      <div class="brand brand-large"><img src=${BASE + "/static/icon.svg"} alt="" width="40" height="40" /><span>kirogate</span></div>
      <h1>${t("signin.title")}</h1>
      <p class="muted">${t("signin.subtitle")}</p>
      ${off ? html`<${ErrorNote} error=${new Error(t("signin.off"))} />` : html`
        <${Field} label=${t("signin.key")} hint=${t("signin.where")} error=${error}>
          ${(ids) => html`<${Input} ...${ids} type="password" name="key" autocomplete="current-password" required autofocus
            value=${key} onInput=${(event) => setKey(event.target.value)} />`}
        <//>
        <${Button} type="submit" variant="primary" busy=${busy} className="btn-block">${t("signin.submit")}<//>`}
    </form>
  </main>`;
}

// ---- the signed-in shell

const modules = {};

function usePage(name) {
  const [state, setState] = useState({ name: null, Page: null, error: null });
  useEffect(() => {
    let live = true;
    if (!PAGE_NAMES.includes(name)) {
      setState({ name, Page: null, error: t("page.missing") });
      return undefined;
    }
    const load = modules[name] || (modules[name] = import(`./pages/${name}.js`));
    load.then(
      (module) => live && setState({ name, Page: module.default, error: null }),
      (error) => live && setState({ name, Page: null, error: t("page.failed", { message: error.message }) }),
    );
    return () => {
      live = false;
    };
  }, [name]);
  return state;
}

function NavLinks({ page, onPick }) {
  return html`<nav aria-label=${t("nav.label")} class="nav">
    ${NAV.map(([group, items]) => html`<div class="nav-group">
      <div class="nav-group-label">${t(group)}</div>
      ${items.map(([name, icon]) => html`<a href=${href(name)} class=${name === page ? "active" : ""}
        aria-current=${name === page ? "page" : undefined}
        onClick=${(event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
          event.preventDefault();
          navigate(name);
          onPick && onPick();
        }}><${Icon} name=${icon} /><span>${t("nav." + name)}</span></a>`)}
    </div>`)}
  </nav>`;
}

function Shell({ where, onSignOut }) {
  const { page, query } = where;
  const { Page, error, name } = usePage(page);
  const [menuOpen, setMenuOpen] = useState(false);
  const announcement = session.value && session.value.announcement;
  useEffect(() => {
    document.title = `${t("nav." + page) || page} · kirogate`;
    window.scrollTo(0, 0);
  }, [page, lang()]);
  return html`<div class=${"shell" + (menuOpen ? " menu-open" : "")}>
    <a class="skip-link" href="#main">${t("skip")}</a>
    <aside class="sidebar">
      <div class="sidebar-head">
        <a class="brand" href=${href("overview")} onClick=${(event) => { event.preventDefault(); navigate("overview"); setMenuOpen(false); }}>
          <img src=${BASE + "/static/icon.svg"} alt="" width="28" height="28" /><span>kirogate</span>
        </a>
        <${IconButton} icon="close" label=${t("nav.close_menu")} className="only-phone" onClick=${() => setMenuOpen(false)} />
      </div>
      <${NavLinks} page=${page} onPick=${() => setMenuOpen(false)} />
      <div class="sidebar-foot">
        <${LanguagePicker} />
        <div class="sidebar-row">
          <${ThemeToggle} />
          <${Button} variant="ghost" size="sm" icon="logout" onClick=${onSignOut}>${t("signout")}<//>
        </div>
        <div class="muted small version">v${session.value && session.value.version}</div>
      </div>
    </aside>
    <div class="scrim" onClick=${() => setMenuOpen(false)} aria-hidden="true"></div>
    <div class="main-col">
      <header class="topbar only-phone">
        <${IconButton} icon="menu" label=${t("nav.menu")} onClick=${() => setMenuOpen(true)} />
        <span class="brand"><span>kirogate</span></span>
        <${ThemeToggle} />
      </header>
      ${announcement && html`<div class="announcement" role="note" aria-label=${t("announcement")}><${Icon} name="info" /><span>${announcement}</span></div>`}
      <main id="main" class="content" tabindex="-1">
        ${error ? html`<${ErrorNote} error=${new Error(error)} />` : Page && name === page ? html`<${Page} query=${query} key=${page} />` : html`<${Loading} />`}
      </main>
    </div>
  </div>`;
}

function App() {
  const [state, setState] = useState({ phase: "checking" });
  const [where, setWhere] = useState(current());
  const [, setLangTick] = useState(0);
  useEffect(() => onLangChange(() => setLangTick((tick) => tick + 1)), []);
  useEffect(() => onNavigate(setWhere), []);
  useEffect(() => {
    whenSignedOut(() => {
      setSession(null);
      session.value = null;
      setState({ phase: "signed-out" });
    });
    api.get("/admin/session").then(
      (value) => (value.signed_in ? signedIn(value) : setState({ phase: "signed-out" })),
      (error) => setState({ phase: "signed-out", off: error instanceof ApiError && error.status === 404 }),
    );
  }, []);
  function signedIn(value) {
    session.value = value;
    setSession(value);
    setState({ phase: "signed-in" });
  }
  async function signOut() {
    try {
      await api.del("/admin/session");
    } finally {
      session.value = null;
      setSession(null);
      setState({ phase: "signed-out" });
    }
  }
  const root = document.getElementById("app");
  root.removeAttribute("aria-busy");
  root.classList.remove("boot");
  if (state.phase === "checking") return html`<div class="boot-screen"><${Loading} /></div>`;
  if (state.phase === "signed-out") return html`<${SignIn} onSignedIn=${signedIn} off=${state.off} />`;
  return html`<${Shell} where=${where} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById("app"));
