// Time-series charts on the vendored uPlot: loaded the first time a chart is shown (a
// <script> and its sheet, both same-origin), coloured from the theme's --chart-N variables,
// redrawn when the theme changes and when the chart's box is resized. Each chart is an image
// to assistive technology (role="img" with a spoken summary) with its figures in a hidden table
// (inside a hidden box: a table is never smaller than its rows, so it cannot be the box).
import { html, useEffect, useRef, useState } from "./preact.js";
import { ROOT } from "./api.js";
import { loadStyle } from "./ui.js";
import { lang, fmtCompact, register, t } from "./i18n.js";

register({
  en: { "charts.time": "Time" },
  "zh-CN": { "charts.time": "时间" },
});

// The charts' own sheet (legend, hover card) is needed as soon as a chart is on the page.
loadStyle("lib/charts.css");

let loading = null;

// The uPlot constructor, once its script has run (one <script> however many charts ask).
export function loadCharts() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!loading) {
    loadStyle("vendor/uPlot.min.css");
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = `${ROOT}/admin/static/vendor/uPlot.iife.min.js`;
      script.onload = () => resolve(window.uPlot);
      script.onerror = () => {
        loading = null;
        script.remove();
        reject(new Error("the chart library did not load"));
      };
      document.head.appendChild(script);
    });
  }
  return loading;
}

function themeColor(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

// "#4f46e5" (or "#44e") at an opacity, for area fills.
function withAlpha(color, alpha) {
  let hex = color.replace("#", "");
  if (hex.length === 3) hex = hex.split("").map((c) => c + c).join("");
  if (hex.length !== 6) return color;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

// Tick labels in the chosen language: times within a day, dates beyond.
function timeTicks(span) {
  const time = new Intl.DateTimeFormat(lang(), { hour: "2-digit", minute: "2-digit" });
  const day = new Intl.DateTimeFormat(lang(), { month: "short", day: "numeric" });
  return (u, splits, axis, space, increment) =>
    splits.map((value) => {
      const date = new Date(value * 1000);
      if (increment >= 86400) return day.format(date);
      if (span > 86400 && date.getHours() === 0 && date.getMinutes() === 0) return day.format(date);
      return time.format(date);
    });
}

export function fmtChartTime(seconds, withTime = true) {
  return new Intl.DateTimeFormat(lang(), {
    month: "short",
    day: "numeric",
    hour: withTime ? "2-digit" : undefined,
    minute: withTime ? "2-digit" : undefined,
  }).format(new Date(seconds * 1000));
}

// The hover card: the bucket's time and each series' value (plain DOM: uPlot owns this layer).
function tooltipPlugin(series, format, withTime) {
  let box = null;
  return {
    hooks: {
      init(u) {
        box = document.createElement("div");
        box.className = "chart-tip";
        box.setAttribute("aria-hidden", "true");
        box.hidden = true;
        u.over.appendChild(box);
      },
      setCursor(u) {
        const index = u.cursor.idx;
        if (index === null || index === undefined || u.cursor.left < 0) {
          box.hidden = true;
          return;
        }
        box.replaceChildren();
        const head = document.createElement("div");
        head.className = "chart-tip-time";
        head.textContent = fmtChartTime(u.data[0][index], withTime);
        box.appendChild(head);
        series.forEach((item, n) => {
          const row = document.createElement("div");
          row.className = "chart-tip-row";
          const dot = document.createElement("span");
          dot.className = "legend-dot";
          dot.style.background = u.series[n + 1].stroke();
          const name = document.createElement("span");
          name.textContent = item.label;
          const value = document.createElement("b");
          const raw = u.data[n + 1][index];
          value.textContent = raw === null || raw === undefined ? "–" : format(raw);
          row.append(dot, name, value);
          box.appendChild(row);
        });
        box.hidden = false;
        const left = u.cursor.left;
        const wide = box.offsetWidth;
        box.style.left = `${left + 14 + wide > u.over.clientWidth ? Math.max(0, left - wide - 14) : left + 14}px`;
        box.style.top = `${Math.max(0, (u.cursor.top || 0) - 20)}px`;
      },
    },
  };
}

function options({ width, height, series, format, span, withTime }) {
  const text = themeColor("--text-2", "#525a66");
  const grid = themeColor("--border", "#e3e6eb");
  const font = "11px system-ui, sans-serif";
  const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 } };
  return {
    width,
    height,
    padding: [10, 12, 0, 4],
    legend: { show: false },
    cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 7 }, y: false },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { ...axis, space: 72, values: timeTicks(span) },
      { ...axis, size: 52, space: 36, ticks: { show: false }, values: (u, splits) => splits.map((v) => format(v)) },
    ],
    series: [
      {},
      ...series.map((item) => {
        const color = themeColor(`--chart-${item.color || 1}`, "#4f46e5");
        return {
          label: item.label,
          stroke: color,
          width: 2,
          dash: item.dash ? [5, 4] : undefined,
          // A lone figure between empty buckets is a dot, not an invisible line.
          points: { show: isolated, size: 6, fill: color },
          spanGaps: false,
          fill: item.fill
            ? (u) => {
                const gradient = u.ctx.createLinearGradient(0, u.bbox.top, 0, u.bbox.top + u.bbox.height);
                gradient.addColorStop(0, withAlpha(color, 0.26));
                gradient.addColorStop(1, withAlpha(color, 0.02));
                return gradient;
              }
            : undefined,
        };
      }),
    ],
    plugins: [tooltipPlugin(series, format, withTime)],
  };
}

// Whether a series has figures with no neighbour in the visible window (they need a dot).
function isolated(u, index, first, last) {
  const values = u.data[index];
  for (let i = first; i <= last; i++) {
    const here = values[i] !== null && values[i] !== undefined;
    if (here && (values[i - 1] === null || values[i - 1] === undefined) && (values[i + 1] === null || values[i + 1] === undefined)) return true;
  }
  return false;
}

// A spoken summary: each series' total (or peak) over the range.
function describe(label, x, series, format, summarize) {
  if (!x.length) return label;
  const parts = series.map((item) => {
    const values = item.values.filter((value) => value !== null && value !== undefined);
    const figure = summarize === "sum" ? values.reduce((a, b) => a + b, 0) : Math.max(0, ...values);
    return `${item.label} ${format(figure)}`;
  });
  return `${label}: ${parts.join(", ")}`;
}

// <TimeChart label x=[epoch seconds] series=[{label, values, color: 1..5, fill, dash}]
//   format=(n) => text summarize="sum"|"max" />
export function TimeChart({ label, x, series, format = fmtCompact, height = 200, summarize = "sum", withTime = true }) {
  const box = useRef(null);
  const plot = useRef(null);
  const [theme, setTheme] = useState(0);
  const [failed, setFailed] = useState(false);
  const span = x.length > 1 ? x[x.length - 1] - x[0] : 0;
  const shape = series.map((item) => `${item.label}|${item.color}|${item.fill}|${item.dash}`).join(";");

  // Build (or rebuild: theme, language, a different set of series) the plot.
  useEffect(() => {
    let alive = true;
    loadCharts().then(
      (uPlot) => {
        if (!alive || !box.current) return;
        plot.current?.destroy();
        const width = Math.max(200, box.current.clientWidth);
        plot.current = new uPlot(options({ width, height, series, format, span, withTime }), [x, ...series.map((item) => item.values)], box.current);
        box.current.dataset.drawn = "true";
      },
      () => alive && setFailed(true),
    );
    return () => {
      alive = false;
    };
  }, [theme, shape, height, lang(), span > 86400, withTime]);

  // New figures for the same series: only the data changes.
  useEffect(() => {
    plot.current?.setData([x, ...series.map((item) => item.values)]);
  }, [x, series]);

  useEffect(() => {
    const onTheme = () => setTheme((n) => n + 1);
    window.addEventListener("kirogate-theme", onTheme);
    const observer = new ResizeObserver(() => {
      const width = box.current?.clientWidth;
      if (plot.current && width && Math.abs(width - plot.current.width) > 1) plot.current.setSize({ width, height });
    });
    if (box.current) observer.observe(box.current);
    return () => {
      window.removeEventListener("kirogate-theme", onTheme);
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return html`<figure class="chart">
    <div class="chart-box" ref=${box} role="img" aria-label=${describe(label, x, series, format, summarize)} style=${{ height: `${height}px` }}>
      ${failed ? html`<p class="muted small chart-failed">${label}</p>` : null}
    </div>
    <figcaption class="chart-legend">
      ${series.map((item) => html`<span class="chart-legend-item"><span class=${"legend-dot chart-dot-" + (item.color || 1)} aria-hidden="true"></span>${item.label}</span>`)}
    </figcaption>
    <div class="sr-only"><table>
      <caption>${label}</caption>
      <thead><tr><th scope="col">${t("charts.time")}</th>${series.map((item) => html`<th scope="col">${item.label}</th>`)}</tr></thead>
      <tbody>
        ${x.map((at, index) => html`<tr><th scope="row">${fmtChartTime(at, withTime)}</th>${series.map((item) => html`<td>${item.values[index] === null || item.values[index] === undefined ? "–" : format(item.values[index])}</td>`)}</tr>`)}
      </tbody>
    </table></div>
  </figure>`;
}
