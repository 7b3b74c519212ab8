// Small SVG charts for the dashboard, drawn from JSON with no library: the page must work on a
// machine without internet, and every label goes in with textContent (never innerHTML).
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f6fb2", "#e0702b", "#2a9d5b", "#c81d32", "#7b5ea7", "#8c6d3f",
                   "#d36bb4", "#6b7b8c", "#b5a322", "#1aa0b0"];

  function el(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function frame(container, name, width, height) {
    container.replaceChildren();
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": name,
                            role: "img", "aria-label": name });
    container.appendChild(svg);
    return svg;
  }

  function scale(d0, d1, r0, r1) {
    const span = d1 - d0 || 1;
    return (v) => r0 + ((v - d0) / span) * (r1 - r0);
  }

  function niceTicks(lo, hi, n = 5) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toFixed(10));
    return out;
  }

  function fmt(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "k";
    return a >= 10 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
  }

  function yAxis(svg, y, ticks, x0, x1, format = fmt) {
    const g = el("g", { class: "axis grid" });
    for (const t of ticks) {
      g.appendChild(el("line", { x1: x0, x2: x1, y1: y(t), y2: y(t) }));
      g.appendChild(el("text", { x: x0 - 4, y: y(t) + 4, "text-anchor": "end" }, format(t)));
    }
    svg.appendChild(g);
  }

  function xLabels(svg, labels, x, yPos, every) {
    const g = el("g", { class: "axis" });
    labels.forEach((label, i) => {
      if (i % every === 0) g.appendChild(el("text", { x: x(i), y: yPos, "text-anchor": "middle" }, label));
    });
    svg.appendChild(g);
  }

  function empty(container, name, message) {
    const svg = frame(container, name, 600, 60);
    svg.appendChild(el("text", { x: 300, y: 34, "text-anchor": "middle", class: "muted" }, message));
    return svg;
  }

  // Vertical bars: [{label, value, color}].
  function bars(container, name, data) {
    const W = 480, H = 220, m = { l: 40, r: 10, t: 18, b: 26 };
    const svg = frame(container, name, W, H);
    const max = Math.max(1, ...data.map((d) => d.value));
    const y = scale(0, max, H - m.b, m.t);
    // counts: whole-number ticks only (no 0.25 alert)
    yAxis(svg, y, niceTicks(0, max, 4).filter(Number.isInteger), m.l, W - m.r);
    const bw = (W - m.l - m.r) / data.length;
    data.forEach((d, i) => {
      const x = m.l + i * bw + bw * 0.15;
      const rect = el("rect", { class: "mark", x, y: y(d.value), width: bw * 0.7,
                                height: Math.max(0, y(0) - y(d.value)), fill: d.color || PALETTE[0] });
      rect.appendChild(el("title", {}, `${d.label}: ${d.value}`));
      svg.appendChild(rect);
      svg.appendChild(el("text", { x: x + bw * 0.35, y: y(d.value) - 4, "text-anchor": "middle" }, d.value));
      svg.appendChild(el("text", { x: x + bw * 0.35, y: H - 8, "text-anchor": "middle" }, d.label));
    });
    return svg;
  }

  // Horizontal bars, largest first: [{label, value, detail}].
  function hbars(container, name, data) {
    if (!data.length) return empty(container, name, "nothing to show");
    const W = 480, row = 24, m = { l: 220, r: 40, t: 8, b: 8 };
    const H = m.t + m.b + row * data.length;
    const svg = frame(container, name, W, H);
    const max = Math.max(1e-9, ...data.map((d) => d.value));
    const x = scale(0, max, m.l, W - m.r);
    data.forEach((d, i) => {
      const top = m.t + i * row;
      const short = d.label.length > 36 ? d.label.slice(0, 35) + "…" : d.label;
      const label = el("text", { x: m.l - 6, y: top + row * 0.65, "text-anchor": "end" }, short);
      label.appendChild(el("title", {}, d.label));
      svg.appendChild(label);
      const rect = el("rect", { class: "mark", x: m.l, y: top + 3, width: Math.max(1, x(d.value) - m.l),
                                height: row - 6, fill: d.color || PALETTE[0] });
      rect.appendChild(el("title", {}, d.detail || `${d.label}: ${d.value}`));
      svg.appendChild(rect);
      svg.appendChild(el("text", { x: x(d.value) + 4, y: top + row * 0.65 }, d.value.toFixed(1)));
    });
    return svg;
  }

  function pathOf(points) {
    return points.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
  }

  // History line (gaps where y is null) and forecast line with 80/95% bands.
  function forecastBand(container, name, history, forecast) {
    const W = 960, H = 280, m = { l: 50, r: 14, t: 12, b: 26 };
    const labels = [...history.map((p) => p.ds), ...forecast.map((p) => p.ds)];
    if (!labels.length) return empty(container, name, "no data for this series");
    const svg = frame(container, name, W, H);
    const values = [...history.map((p) => p.y), ...forecast.flatMap((p) => [p.forecast, p.lo_95, p.hi_95])]
      .filter((v) => v !== null && v !== undefined && Number.isFinite(v));
    const lo = Math.min(0, ...values), hi = Math.max(1, ...values);
    const x = scale(0, labels.length - 1, m.l, W - m.r), y = scale(lo, hi, H - m.b, m.t);
    yAxis(svg, y, niceTicks(lo, hi, 5), m.l, W - m.r);
    xLabels(svg, labels.map((d) => d.slice(0, 7)), x, H - 8, Math.max(1, Math.ceil(labels.length / 10)));
    const off = history.length;
    for (const [lo_, hi_, cls, fill] of [["lo_95", "hi_95", "band95", "rgba(200,29,50,.15)"],
                                          ["lo_80", "hi_80", "band80", "rgba(200,29,50,.35)"]]) {
      const pts = forecast.map((p, i) => [i, p[lo_], p[hi_]]).filter(([, a, b]) => a !== null && b !== null);
      if (!pts.length) continue;
      const upper = pts.map(([i, , b]) => [x(off + i), y(b)]);
      const lower = pts.map(([i, a]) => [x(off + i), y(a)]).reverse();
      svg.appendChild(el("path", { class: `mark ${cls}`, d: pathOf([...upper, ...lower]) + "Z", fill }));
    }
    let run = [];
    const flush = () => {
      if (run.length > 1) svg.appendChild(el("path", { class: "mark history", d: pathOf(run), fill: "none",
                                                       stroke: "#1d2733", "stroke-width": 1.8 }));
      else if (run.length === 1) svg.appendChild(el("circle", { class: "mark history", cx: run[0][0], cy: run[0][1], r: 2 }));
      run = [];
    };
    history.forEach((p, i) => { if (p.y === null) flush(); else run.push([x(i), y(p.y)]); });
    flush();
    const fpts = forecast.map((p, i) => [off + i, p.forecast]).filter(([, v]) => v !== null);
    if (fpts.length) {
      const last = history.length && history[history.length - 1].y !== null
        ? [[x(off - 1), y(history[history.length - 1].y)]] : [];
      svg.appendChild(el("path", { class: "mark forecast", d: pathOf([...last, ...fpts.map(([i, v]) => [x(i), y(v)])]),
                                   fill: "none", stroke: "#c81d32", "stroke-width": 2, "stroke-dasharray": "5 3" }));
    }
    return svg;
  }

  // Stacked areas of shares (0..1) per period: shares = [{ds, key, share}], keys in order.
  function stackedShares(container, name, keys, shares) {
    const periods = [...new Set(shares.map((s) => s.ds))].sort();
    if (!periods.length) return empty(container, name, "no route flows for this selection");
    const W = 960, H = 300, m = { l: 44, r: 150, t: 10, b: 26 };
    const svg = frame(container, name, W, H);
    const x = scale(0, Math.max(1, periods.length - 1), m.l, W - m.r), y = scale(0, 1, H - m.b, m.t);
    yAxis(svg, y, [0, 0.25, 0.5, 0.75, 1], m.l, W - m.r, (v) => `${Math.round(v * 100)}%`);
    xLabels(svg, periods.map((d) => d.slice(0, 7)), x, H - 8, Math.max(1, Math.ceil(periods.length / 10)));
    const at = new Map(shares.map((s) => [`${s.ds}|${s.key}`, s.share]));
    const base = periods.map(() => 0);
    keys.forEach((key, k) => {
      const top = periods.map((p, i) => base[i] + (at.get(`${p}|${key}`) || 0));
      const upper = top.map((v, i) => [x(i), y(v)]);
      const lower = base.map((v, i) => [x(i), y(v)]).reverse();
      const color = key === "unknown" ? "#c9d1d9" : key === "other" ? "#9aa5b1" : PALETTE[k % PALETTE.length];
      const area = el("path", { class: "mark", d: pathOf([...upper, ...lower]) + "Z", fill: color, opacity: 0.9 });
      area.appendChild(el("title", {}, key));
      svg.appendChild(area);
      svg.appendChild(el("rect", { x: W - m.r + 10, y: m.t + k * 18, width: 12, height: 12, fill: color }));
      svg.appendChild(el("text", { x: W - m.r + 28, y: m.t + k * 18 + 10 }, key));
      top.forEach((v, i) => { base[i] = v; });
    });
    return svg;
  }

  return { bars, hbars, forecastBand, stackedShares, empty };
})();
