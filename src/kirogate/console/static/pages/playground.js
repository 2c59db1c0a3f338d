// The playground: chat through this gateway as a client would, in either dialect, streaming.
// The console's session (cookie + CSRF token) is accepted on the client routes, so no client
// key is needed; requests are logged under the key name "console".
import { html, useState, useEffect, useRef } from "../lib/preact.js";
import { t, register, fmtNumber, fmtDuration } from "../lib/i18n.js";
import { request, clientModels } from "../lib/api.js";
import { navigate, href } from "../lib/router.js";
import { Icon } from "../lib/icons.js";
import {
  PageHeader, Card, Field, Input, TextArea, Select, Switch, Segmented, Button, Badge, Empty,
  ErrorNote, plainError, loadStyle, useAsync,
} from "../lib/ui.js";

loadStyle("pages/playground.css");

register({
  en: {
    "playground.subtitle": "Chat through this gateway like any client, and see what comes back.",
    "playground.settings": "Settings",
    "playground.model": "Model",
    "playground.model.other": "Another model…",
    "playground.model.custom": "Model name",
    "playground.model.custom_hint": "Any name the gateway serves, hidden models and aliases too.",
    "playground.model.failed": "The model list could not be loaded: {message}",
    "playground.dialect": "API",
    "playground.dialect.anthropic": "Anthropic",
    "playground.dialect.openai": "OpenAI",
    "playground.dialect.streamed": "streamed",
    "playground.system": "System prompt",
    "playground.system.placeholder": "You are a helpful assistant.",
    "playground.thinking": "Extended thinking",
    "playground.budget": "Thinking budget (tokens)",
    "playground.budget.hint.anthropic": "Sent as thinking.budget_tokens.",
    "playground.budget.hint.openai": "Sent as reasoning_effort: {effort} ({tokens} tokens).",
    "playground.tool": "Offer a sample tool",
    "playground.tool.hint": "get_weather(city): ask about the weather and the model may call it.",
    "playground.conversation": "Conversation",
    "playground.clear": "Clear",
    "playground.empty.title": "Start a conversation",
    "playground.empty.text": "Your messages go through this gateway with the settings beside them, and are logged under the key name “console”.",
    "playground.message": "Message",
    "playground.message.placeholder": "Ask something…",
    "playground.message.keys": "Enter sends · Shift+Enter starts a new line",
    "playground.send": "Send",
    "playground.stop": "Stop",
    "playground.you": "You",
    "playground.assistant": "Assistant",
    "playground.thinking.label": "Thinking",
    "playground.thinking.live": "Thinking…",
    "playground.thinking.show": "Show thinking",
    "playground.thinking.hide": "Hide thinking",
    "playground.tool_call": "Tool call",
    "playground.tool_input": "Arguments",
    "playground.tool_result": "Tool result",
    "playground.tool.send_sample": "Reply with a sample result",
    "playground.waiting": "Waiting for the first token…",
    "playground.stopped": "Stopped before the answer ended.",
    "playground.failed": "The gateway could not answer",
    "playground.metrics": "Answer metrics",
    "playground.ttft": "First token",
    "playground.duration": "Duration",
    "playground.input_tokens": "Input",
    "playground.output_tokens": "Output",
    "playground.tokens": "{count} tokens",
    "playground.stop_reason.max_tokens": "Cut off at the token limit",
    "playground.stop_reason.tool_use": "Waiting for the tool's result",
    "playground.stop_reason.refusal": "The model refused",
    "playground.logs": "See it in the logs",
    "playground.no_answer": "The stream ended without an answer.",
  },
  "zh-CN": {
    "playground.subtitle": "像任何客户端一样通过本网关对话，并查看返回的内容。",
    "playground.settings": "设置",
    "playground.model": "模型",
    "playground.model.other": "其他模型…",
    "playground.model.custom": "模型名称",
    "playground.model.custom_hint": "网关能服务的任意名称，包括隐藏模型和别名。",
    "playground.model.failed": "无法加载模型列表：{message}",
    "playground.dialect": "接口",
    "playground.dialect.anthropic": "Anthropic",
    "playground.dialect.openai": "OpenAI",
    "playground.dialect.streamed": "流式",
    "playground.system": "系统提示词",
    "playground.system.placeholder": "你是一个乐于助人的助手。",
    "playground.thinking": "扩展思考",
    "playground.budget": "思考预算（token）",
    "playground.budget.hint.anthropic": "以 thinking.budget_tokens 发送。",
    "playground.budget.hint.openai": "以 reasoning_effort: {effort} 发送（{tokens} 个 token）。",
    "playground.tool": "提供示例工具",
    "playground.tool.hint": "get_weather(city)：询问天气时模型可能会调用它。",
    "playground.conversation": "对话",
    "playground.clear": "清空",
    "playground.empty.title": "开始对话",
    "playground.empty.text": "你的消息会按旁边的设置经过本网关发送，并以密钥名称“console”记录在日志中。",
    "playground.message": "消息",
    "playground.message.placeholder": "输入问题…",
    "playground.message.keys": "Enter 发送 · Shift+Enter 换行",
    "playground.send": "发送",
    "playground.stop": "停止",
    "playground.you": "你",
    "playground.assistant": "助手",
    "playground.thinking.label": "思考过程",
    "playground.thinking.live": "思考中…",
    "playground.thinking.show": "展开思考过程",
    "playground.thinking.hide": "收起思考过程",
    "playground.tool_call": "工具调用",
    "playground.tool_input": "参数",
    "playground.tool_result": "工具结果",
    "playground.tool.send_sample": "用示例结果回复",
    "playground.waiting": "等待第一个 token…",
    "playground.stopped": "回答结束前已停止。",
    "playground.failed": "网关无法回答",
    "playground.metrics": "回答指标",
    "playground.ttft": "首 token",
    "playground.duration": "耗时",
    "playground.input_tokens": "输入",
    "playground.output_tokens": "输出",
    "playground.tokens": "{count} 个 token",
    "playground.stop_reason.max_tokens": "达到 token 上限被截断",
    "playground.stop_reason.tool_use": "等待工具结果",
    "playground.stop_reason.refusal": "模型拒绝回答",
    "playground.logs": "在日志中查看",
    "playground.no_answer": "流已结束，但没有回答。",
  },
});

// ---- settings, remembered in this browser

const SAVED = "kirogate.playground";
const DEFAULTS = { model: "", dialect: "anthropic", system: "", thinking: false, budget: 4096, tool: false };
const OTHER = "__other__";
// The conversation outlives a visit to another page of the console (not a reload).
let keptTurns = [];

function loadSettings() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(SAVED) || "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

// The OpenAI dialect has no token budget: the gateway maps reasoning_effort to one
// (kirogate.convert.thinking.EFFORT_BUDGETS), so the smallest effort covering the budget is sent.
const EFFORTS = [["minimal", 1024], ["low", 4096], ["medium", 10240], ["high", 20000], ["xhigh", 24576], ["max", 32000]];

// The budget as typed, kept within what the gateway accepts (the field may hold a half-typed number).
function budgetOf(settings) {
  return Math.max(1024, Math.min(32000, Math.round(Number(settings.budget)) || 4096));
}

function effortFor(budget) {
  return (EFFORTS.find(([, tokens]) => tokens >= budget) || EFFORTS[EFFORTS.length - 1]);
}

const WEATHER_TOOL = {
  name: "get_weather",
  description: "The current weather in a city.",
  schema: {
    type: "object",
    properties: { city: { type: "string", description: "The city's name, e.g. Paris" } },
    required: ["city"],
  },
};

// The canned answer of the sample tool, so a tool round trip can be finished by hand.
function sampleWeather(input) {
  let city = "Paris";
  try {
    city = JSON.parse(input || "{}").city || city;
  } catch {
    /* arguments that are not JSON: keep the default city */
  }
  return JSON.stringify({ city, temperature_c: 21, conditions: "sunny", humidity: 0.4 });
}

// ---- the conversation, in a form neither dialect owns
// user turns: { role: "user", text } or { role: "user", results: [{ id, name, content }] }
// assistant turns: { role: "assistant", blocks: [{ kind: "thinking"|"text"|"tool", ... }],
//   metrics: { ttft, duration, input, output }, stop, error, stopped, streaming }

function answered(turn) {
  return turn.blocks.some((block) => (block.kind === "text" && block.text) || block.kind === "tool");
}

// The turns sent as history: an exchange whose answer failed or is empty is left out, so
// the next request is not refused for two user turns in a row.
function history(turns) {
  const kept = [];
  for (const turn of turns) {
    if (turn.role === "assistant" && !answered(turn)) {
      if (kept.length && kept[kept.length - 1].role === "user") kept.pop();
      continue;
    }
    kept.push(turn);
  }
  return kept;
}

function parsedInput(text) {
  try {
    const value = JSON.parse(text || "{}");
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}

function anthropicBody(settings, model, turns) {
  const messages = history(turns).map((turn) => {
    if (turn.role === "user" && turn.results) {
      return { role: "user", content: turn.results.map((result) => ({ type: "tool_result", tool_use_id: result.id, content: result.content })) };
    }
    if (turn.role === "user") return { role: "user", content: turn.text };
    const content = turn.blocks
      .filter((block) => block.kind === "tool" || (block.kind === "text" && block.text))
      .map((block) => (block.kind === "text"
        ? { type: "text", text: block.text }
        : { type: "tool_use", id: block.id, name: block.name, input: parsedInput(block.input) }));
    return { role: "assistant", content };
  });
  const budget = budgetOf(settings);
  const body = { model, max_tokens: settings.thinking ? budget + 8192 : 8192, stream: true, messages };
  if (settings.system.trim()) body.system = settings.system;
  if (settings.thinking) body.thinking = { type: "enabled", budget_tokens: budget };
  if (settings.tool) body.tools = [{ name: WEATHER_TOOL.name, description: WEATHER_TOOL.description, input_schema: WEATHER_TOOL.schema }];
  return body;
}

function openaiBody(settings, model, turns) {
  const messages = settings.system.trim() ? [{ role: "system", content: settings.system }] : [];
  for (const turn of history(turns)) {
    if (turn.role === "user" && turn.results) {
      for (const result of turn.results) messages.push({ role: "tool", tool_call_id: result.id, content: result.content });
    } else if (turn.role === "user") {
      messages.push({ role: "user", content: turn.text });
    } else {
      const text = turn.blocks.filter((block) => block.kind === "text").map((block) => block.text).join("");
      const calls = turn.blocks.filter((block) => block.kind === "tool")
        .map((block) => ({ id: block.id, type: "function", function: { name: block.name, arguments: block.input || "{}" } }));
      messages.push({ role: "assistant", content: text || null, ...(calls.length ? { tool_calls: calls } : {}) });
    }
  }
  const body = { model, stream: true, stream_options: { include_usage: true }, messages };
  if (settings.thinking) body.reasoning_effort = effortFor(budgetOf(settings))[0];
  if (settings.tool) body.tools = [{ type: "function", function: { name: WEATHER_TOOL.name, description: WEATHER_TOOL.description, parameters: WEATHER_TOOL.schema } }];
  return body;
}

// ---- server-sent events

// Reads an event stream, calling onEvent(name, data) per event; lines may be split anywhere
// between chunks, so partial lines wait in the buffer for the rest.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let name = "";
  let data = [];
  const take = (raw) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "") {
      if (data.length) onEvent(name || "message", data.join("\n"));
      name = "";
      data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf("\n");
    while (end >= 0) {
      take(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      end = buffer.indexOf("\n");
    }
  }
  buffer += decoder.decode();
  if (buffer) take(buffer);
  take("");
}

// What both dialects' events amount to, applied to the answer being drawn.
function answerSink(answer, started) {
  const first = () => {
    if (answer.metrics.ttft === null) answer.metrics.ttft = performance.now() - started;
  };
  const last = (kind) => {
    const block = answer.blocks[answer.blocks.length - 1];
    if (block && block.kind === kind && !block.done) return block;
    const fresh = kind === "thinking" ? { kind, text: "", open: true, touched: false } : { kind, text: "" };
    closeThinking();
    answer.blocks.push(fresh);
    return fresh;
  };
  // A finished thinking block folds away unless the operator opened or closed it by hand.
  const closeThinking = () => {
    for (const block of answer.blocks) {
      if (block.kind === "thinking" && !block.done) {
        block.done = true;
        if (!block.touched) block.open = false;
      }
    }
  };
  return {
    thinking(text) {
      if (!text) return;
      first();
      last("thinking").text += text;
    },
    text(text) {
      if (!text) return;
      first();
      last("text").text += text;
    },
    tool(id, name) {
      first();
      closeThinking();
      const block = { kind: "tool", id, name, input: "" };
      answer.blocks.push(block);
      return block;
    },
    usage(input, output) {
      if (input !== undefined && input !== null) answer.metrics.input = input;
      if (output !== undefined && output !== null) answer.metrics.output = output;
    },
    stop(reason) {
      if (reason) answer.stop = reason;
    },
    error(message) {
      answer.error = message;
    },
    closeThinking,
  };
}

function anthropicEvents(sink) {
  const byIndex = new Map();
  return (name, data) => {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    const type = event.type || name;
    if (type === "message_start") {
      const usage = event.message?.usage || {};
      sink.usage(usage.input_tokens, null);
    } else if (type === "content_block_start") {
      const block = event.content_block || {};
      if (block.type === "tool_use" || block.type === "server_tool_use") byIndex.set(event.index, sink.tool(block.id, block.name));
      else if (block.type === "thinking") sink.thinking(block.thinking || "");
      else if (block.type === "redacted_thinking") sink.thinking("[redacted]");
      else if (block.type === "text") sink.text(block.text || "");
    } else if (type === "content_block_delta") {
      const delta = event.delta || {};
      if (delta.type === "thinking_delta") sink.thinking(delta.thinking);
      else if (delta.type === "text_delta") sink.text(delta.text);
      else if (delta.type === "input_json_delta" && byIndex.has(event.index)) byIndex.get(event.index).input += delta.partial_json || "";
    } else if (type === "content_block_stop") {
      sink.closeThinking();
    } else if (type === "message_delta") {
      sink.stop(event.delta?.stop_reason);
      sink.usage(event.usage?.input_tokens, event.usage?.output_tokens);
    } else if (type === "error") {
      sink.error(event.error?.message || data);
    }
  };
}

function openaiEvents(sink) {
  const byIndex = new Map();
  return (name, data) => {
    if (data === "[DONE]") return;
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      return;
    }
    if (chunk.error) {
      sink.error(chunk.error.message || String(chunk.error));
      return;
    }
    if (chunk.usage) sink.usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens);
    const choice = (chunk.choices || [])[0];
    if (!choice) return;
    const delta = choice.delta || {};
    if (delta.reasoning_content) sink.thinking(delta.reasoning_content);
    if (delta.content) sink.text(delta.content);
    for (const call of delta.tool_calls || []) {
      let block = byIndex.get(call.index);
      if (!block) {
        block = sink.tool(call.id, call.function?.name || "");
        byIndex.set(call.index, block);
      }
      block.input += call.function?.arguments || "";
    }
    const reasons = { stop: "end_turn", length: "max_tokens", tool_calls: "tool_use", content_filter: "refusal" };
    if (choice.finish_reason) sink.stop(reasons[choice.finish_reason] || choice.finish_reason);
  };
}

// ---- the page

export default function Playground() {
  const [settings, setSettings] = useState(loadSettings);
  const [turns, setTurns] = useState(keptTurns);
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const controller = useRef(null);
  const turnsRef = useRef(turns);
  const frame = useRef(0);
  const models = useAsync(
    () => clientModels(),
    [],
  );

  useEffect(() => {
    localStorage.setItem(SAVED, JSON.stringify(settings));
  }, [settings]);
  useEffect(() => () => controller.current && controller.current.abort(), []);

  const ids = models.data || [];
  // The remembered model while the list loads; then the remembered one if still listed, else a default.
  let chosen;
  if (settings.model === OTHER) chosen = OTHER;
  else if (!models.data) chosen = settings.model || (models.error ? OTHER : "");
  else chosen = ids.includes(settings.model) ? settings.model : ids.find((id) => id === "claude-sonnet-4-6") || ids[0] || OTHER;
  const modelOptions = ids.length ? ids.map((id) => [id, id]) : chosen && chosen !== OTHER ? [[chosen, chosen]] : [["", t("ui.loading")]];
  const model = chosen === OTHER ? (settings.customModel || "").trim() : chosen;
  const change = (name) => (value) => setSettings((previous) => ({ ...previous, [name]: value }));

  // Streaming mutates the answer in place; the page is redrawn at most once a frame.
  function show(next) {
    turnsRef.current = next;
    keptTurns = next;
    setTurns(next);
  }
  function redraw() {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setTurns([...turnsRef.current]);
    });
  }

  async function run(conversation) {
    const answer = { role: "assistant", blocks: [], metrics: { ttft: null, duration: null, input: null, output: null }, stop: null, error: null, streaming: true, model, dialect: settings.dialect };
    show([...conversation, answer]);
    setBusy(true);
    const abort = new AbortController();
    controller.current = abort;
    const started = performance.now();
    const sink = answerSink(answer, started);
    const anthropic = settings.dialect === "anthropic";
    try {
      const response = await request("POST", anthropic ? "/v1/messages" : "/v1/chat/completions", {
        body: anthropic ? anthropicBody(settings, model, conversation) : openaiBody(settings, model, conversation),
        headers: { accept: "text/event-stream" },
        signal: abort.signal,
        raw: true,
      });
      const onEvent = anthropic ? anthropicEvents(sink) : openaiEvents(sink);
      await readEvents(response, (name, data) => {
        onEvent(name, data);
        redraw();
      });
      if (!answer.error && !answer.blocks.length) answer.error = t("playground.no_answer");
    } catch (error) {
      if (error.name === "AbortError") answer.stopped = true;
      else answer.error = plainError(error);
    } finally {
      sink.closeThinking();
      answer.streaming = false;
      answer.metrics.duration = performance.now() - started;
      controller.current = null;
      setBusy(false);
      show([...turnsRef.current]);
    }
  }

  function send(event) {
    event && event.preventDefault();
    const text = draft.trim();
    if (!text || busy || !model) return;
    setDraft("");
    run([...turnsRef.current, { role: "user", text }]);
  }

  function reply(block) {
    const results = [{ id: block.id, name: block.name, content: sampleWeather(block.input) }];
    run([...turnsRef.current, { role: "user", results }]);
  }

  function toggle(block) {
    block.open = !block.open;
    block.touched = true;
    show([...turnsRef.current]);
  }

  const lastAnswer = turns[turns.length - 1];
  const settingsCard = html`<${Card} title=${t("playground.settings")} className="playground-settings">
    <div class="stack">
      <${Field} label=${t("playground.model")} error=${models.error ? t("playground.model.failed", { message: plainError(models.error) }) : null}>
        ${(field) => html`<${Select} ...${field} value=${chosen} onChange=${change("model")}
          options=${[...(models.error && !ids.length ? [] : modelOptions), [OTHER, t("playground.model.other")]]} />`}
      <//>
      ${chosen === OTHER && html`<${Field} label=${t("playground.model.custom")} hint=${t("playground.model.custom_hint")}>
        ${(field) => html`<${Input} ...${field} value=${settings.customModel || ""} spellcheck="false" autocomplete="off"
          placeholder="claude-sonnet-4-6" onInput=${(event) => change("customModel")(event.target.value)} />`}
      <//>`}
      <div class="field">
        <span class="field-label" id="playground-dialect">${t("playground.dialect")}</span>
        <${Segmented} label=${t("playground.dialect")} value=${settings.dialect} onChange=${change("dialect")}
          options=${[["anthropic", t("playground.dialect.anthropic")], ["openai", t("playground.dialect.openai")]]} />
        <p class="hint"><code>POST ${settings.dialect === "anthropic" ? "/v1/messages" : "/v1/chat/completions"}</code> · ${t("playground.dialect.streamed")}</p>
      </div>
      <${Field} label=${t("playground.system")}>
        ${(field) => html`<${TextArea} ...${field} rows="3" value=${settings.system} placeholder=${t("playground.system.placeholder")}
          onInput=${(event) => change("system")(event.target.value)} />`}
      <//>
      <div class="playground-switch">
        <label for="playground-thinking">${t("playground.thinking")}</label>
        <${Switch} id="playground-thinking" label=${t("playground.thinking")} checked=${settings.thinking} onChange=${change("thinking")} />
      </div>
      ${settings.thinking && html`<${Field} label=${t("playground.budget")}
        hint=${settings.dialect === "anthropic"
          ? t("playground.budget.hint.anthropic")
          : t("playground.budget.hint.openai", { effort: effortFor(budgetOf(settings))[0], tokens: fmtNumber(effortFor(budgetOf(settings))[1]) })}>
        ${(field) => html`<${Input} ...${field} type="number" min="1024" max="32000" step="1024" value=${settings.budget}
          onInput=${(event) => change("budget")(event.target.value)}
          onBlur=${() => change("budget")(budgetOf(settings))} />`}
      <//>`}
      <div>
        <div class="playground-switch">
          <label for="playground-tool">${t("playground.tool")}</label>
          <${Switch} id="playground-tool" label=${t("playground.tool")} checked=${settings.tool} onChange=${change("tool")} />
        </div>
        <p class="hint small muted">${t("playground.tool.hint")}</p>
      </div>
    </div>
  <//>`;

  return html`<${PageHeader} title=${t("nav.playground")} subtitle=${t("playground.subtitle")} />
    <div class="playground">
      ${settingsCard}
      <${Card} title=${t("playground.conversation")} className="playground-chat"
        actions=${html`<${Button} size="sm" variant="ghost" icon="trash" disabled=${busy || !turns.length} onClick=${() => show([])}>${t("playground.clear")}<//>`}>
        <${ChatLog} turns=${turns} busy=${busy} onToggle=${toggle} onReply=${reply}
          canReply=${!busy && lastAnswer && lastAnswer.role === "assistant" && lastAnswer.stop === "tool_use"} />
        <form class="composer" onSubmit=${send}>
          <${TextArea} aria-label=${t("playground.message")} aria-describedby="playground-keys" rows="2" value=${draft} placeholder=${t("playground.message.placeholder")}
            onInput=${(event) => setDraft(event.target.value)}
            onKeyDown=${(event) => {
              if (event.key === "Enter" && !event.shiftKey && !event.isComposing) send(event);
            }} />
          ${busy
            ? html`<${Button} variant="danger" icon="pause" onClick=${() => controller.current && controller.current.abort()}>${t("playground.stop")}<//>`
            : html`<${Button} type="submit" variant="primary" icon="send" disabled=${!draft.trim() || !model}>${t("playground.send")}<//>`}
        </form>
        <p class="composer-keys muted small" id="playground-keys">${t("playground.message.keys")}</p>
      <//>
    </div>`;
}

// The messages, kept scrolled to the newest while it streams unless the operator scrolled up.
function ChatLog({ turns, busy, onToggle, onReply, canReply }) {
  const ref = useRef(null);
  const pinned = useRef(true);
  useEffect(() => {
    const log = ref.current;
    if (log && pinned.current) log.scrollTop = log.scrollHeight;
  });
  if (!turns.length) {
    return html`<div class="chat-log chat-empty"><${Empty} icon="playground" title=${t("playground.empty.title")} text=${t("playground.empty.text")} /></div>`;
  }
  return html`<div class="chat-log" ref=${ref} role="log" aria-busy=${busy ? "true" : "false"} aria-label=${t("playground.conversation")} tabindex="0"
    onScroll=${(event) => {
      const log = event.currentTarget;
      pinned.current = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    }}>
    ${turns.map((turn, index) => (turn.role === "user"
      ? html`<${UserTurn} turn=${turn} key=${index} />`
      : html`<${AnswerTurn} turn=${turn} key=${index} onToggle=${onToggle} onReply=${onReply}
          canReply=${canReply && index === turns.length - 1} />`))}
  </div>`;
}

function UserTurn({ turn }) {
  if (turn.results) {
    return html`<div class="turn turn-user">
      ${turn.results.map((result) => html`<div class="tool-card tool-result">
        <div class="tool-head"><${Icon} name="check" size=${16} /><span>${t("playground.tool_result")}</span><code>${result.name}</code></div>
        <pre class="tool-json">${pretty(result.content)}</pre>
      </div>`)}
    </div>`;
  }
  return html`<div class="turn turn-user">
    <span class="sr-only">${t("playground.you")}:</span>
    <div class="bubble bubble-user">${turn.text}</div>
  </div>`;
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function AnswerTurn({ turn, onToggle, onReply, canReply }) {
  const waiting = turn.streaming && !turn.blocks.length;
  return html`<div class="turn turn-answer">
    <span class="sr-only">${t("playground.assistant")}:</span>
    <div class="answer">
      ${waiting && html`<div class="bubble bubble-answer waiting"><span class="typing" aria-hidden="true"><i></i><i></i><i></i></span><span class="muted">${t("playground.waiting")}</span></div>`}
      ${turn.blocks.map((block) => {
        if (block.kind === "thinking") return html`<${Thinking} block=${block} live=${turn.streaming && !block.done} onToggle=${() => onToggle(block)} />`;
        if (block.kind === "tool") return html`<${ToolCall} block=${block} onReply=${canReply && block.name === WEATHER_TOOL.name ? () => onReply(block) : null} />`;
        return html`<div class="bubble bubble-answer">${renderText(block.text)}${turn.streaming && block === turn.blocks[turn.blocks.length - 1] && html`<span class="caret" aria-hidden="true"></span>`}</div>`;
      })}
      ${turn.stopped && html`<p class="muted small answer-note"><${Icon} name="pause" size=${14} /> ${t("playground.stopped")}</p>`}
      ${turn.error && html`<div class="note note-bad answer-error" role="alert"><${Icon} name="alert" />
        <div><strong>${t("playground.failed")}</strong><div>${turn.error}</div></div></div>`}
      ${!turn.streaming && html`<${Metrics} turn=${turn} />`}
    </div>
  </div>`;
}

function Thinking({ block, live, onToggle }) {
  const id = useRef("thinking-" + Math.random().toString(36).slice(2)).current;
  return html`<div class=${"thinking" + (block.open ? " open" : "")}>
    <button type="button" class="thinking-toggle" aria-expanded=${block.open ? "true" : "false"} aria-controls=${id}
      title=${t(block.open ? "playground.thinking.hide" : "playground.thinking.show")} onClick=${onToggle}>
      <${Icon} name="chevron" size=${14} />
      <span>${live ? t("playground.thinking.live") : t("playground.thinking.label")}</span>
    </button>
    ${block.open && html`<div class="thinking-text" id=${id}>${block.text}</div>`}
  </div>`;
}

function ToolCall({ block, onReply }) {
  return html`<div class="tool-card">
    <div class="tool-head"><${Icon} name="settings" size=${16} /><span>${t("playground.tool_call")}</span><code>${block.name}</code></div>
    <div class="small muted">${t("playground.tool_input")}</div>
    <pre class="tool-json">${pretty(block.input || "{}")}</pre>
    ${onReply && html`<div><${Button} size="sm" icon="send" onClick=${onReply}>${t("playground.tool.send_sample")}<//></div>`}
  </div>`;
}

// Plain text with whitespace kept; ``` fences become monospace blocks.
function renderText(text) {
  const parts = text.split(/```[^\n]*\n?/);
  return parts.map((part, index) => (index % 2 ? html`<pre class="answer-code">${part.replace(/\n$/, "")}</pre>` : part));
}

function Metrics({ turn }) {
  const { ttft, duration, input, output } = turn.metrics;
  const stopNote = ["max_tokens", "tool_use", "refusal"].includes(turn.stop) ? t("playground.stop_reason." + turn.stop) : null;
  const metric = (label, value) => html`<span class="metric"><span class="metric-label">${label}</span><strong>${value}</strong></span>`;
  return html`<div class="metrics" role="group" aria-label=${t("playground.metrics")}>
    ${ttft !== null && metric(t("playground.ttft"), fmtDuration(Math.round(ttft)))}
    ${metric(t("playground.duration"), fmtDuration(Math.round(duration || 0)))}
    ${input !== null && metric(t("playground.input_tokens"), t("playground.tokens", { count: fmtNumber(input) }))}
    ${output !== null && metric(t("playground.output_tokens"), t("playground.tokens", { count: fmtNumber(output) }))}
    <${Badge} tone="muted">${turn.model}<//>
    ${stopNote && html`<${Badge} tone=${turn.stop === "tool_use" ? "info" : "warn"}>${stopNote}<//>`}
    <a class="metrics-link" href=${href("logs")} onClick=${(event) => { event.preventDefault(); navigate("logs"); }}>${t("playground.logs")}</a>
  </div>`;
}
