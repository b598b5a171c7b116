// Small inline-SVG charts for the experiment page (no library).
"use strict";

const Charts = (() => {
  const { svg } = Segue;
  const W = 380, LEFT = 78, RIGHT = 64, ROW = 26, TOP = 26, BOTTOM = 22;

  function ticks(lo, hi, n = 4) {
    const step = (hi - lo) / n;
    return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
  }

  function frame(height, title) {
    const s = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": title });
    s.append(svg("text", { x: 0, y: 14, "font-weight": "600", text: title }));
    return s;
  }

  // One row per arm: whisker for the interval, dot for the estimate, the value on the right.
  function interval(title, rows, fmt, opts = {}) {
    const height = TOP + rows.length * ROW + BOTTOM;
    const s = frame(height, title);
    const finite = rows.flatMap((r) => [r.value, r.lo, r.hi]).filter((x) => x !== null && x !== undefined && isFinite(x));
    let hi = opts.max !== undefined ? opts.max : Math.max(1e-9, ...finite) * 1.08;
    if (opts.cap !== undefined) hi = Math.min(hi, opts.cap);
    const x = (v) => LEFT + (W - LEFT - RIGHT) * Math.max(0, Math.min(1, v / hi));
    for (const t of ticks(0, hi)) {
      s.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: TOP - 4, y2: height - BOTTOM }));
      s.append(svg("text", { class: "axis", x: x(t), y: height - 6, "text-anchor": "middle", text: fmt(t, true) }));
    }
    rows.forEach((r, i) => {
      const y = TOP + i * ROW + ROW / 2;
      s.append(svg("text", { x: LEFT - 8, y: y + 4, "text-anchor": "end", text: r.arm }));
      if (r.value === null || r.value === undefined) {
        s.append(svg("text", { class: "axis", x: LEFT + 4, y: y + 4, text: "no data yet" }));
        return;
      }
      const lo = r.lo ?? r.value, up = r.hi ?? r.value;
      s.append(svg("line", { x1: x(lo), x2: x(up), y1: y, y2: y, stroke: r.color, "stroke-width": 6, "stroke-opacity": 0.28, "stroke-linecap": "round" }));
      s.append(svg("circle", { cx: x(r.value), cy: y, r: 4.5, fill: r.color, "data-arm": r.arm }));
      s.append(svg("text", { x: W - RIGHT + 8, y: y + 4, text: fmt(r.value) }));
    });
    return s;
  }

  // Differences (arm - control) with their always-valid confidence sequence, around zero.
  function diff(title, rows, fmt) {
    const height = TOP + rows.length * ROW + BOTTOM;
    const s = frame(height, title);
    const ends = rows.flatMap((r) => [r.lo, r.hi, r.diff]).filter((v) => v !== null && v !== undefined && isFinite(v));
    const m = Math.max(1e-6, ...ends.map(Math.abs)) * 1.1;
    const x = (v) => LEFT + (W - LEFT - RIGHT) * (Math.max(-m, Math.min(m, v)) + m) / (2 * m);
    for (const t of ticks(-m, m)) {
      s.append(svg("text", { class: "axis", x: x(t), y: height - 6, "text-anchor": "middle", text: fmt(t, true) }));
    }
    s.append(svg("line", { class: "zero", x1: x(0), x2: x(0), y1: TOP - 4, y2: height - BOTTOM }));
    rows.forEach((r, i) => {
      const y = TOP + i * ROW + ROW / 2;
      s.append(svg("text", { x: LEFT - 8, y: y + 4, "text-anchor": "end", text: r.label }));
      const lo = (r.lo === null || r.lo === undefined) ? -m : r.lo, hi = (r.hi === null || r.hi === undefined) ? m : r.hi;
      s.append(svg("line", { x1: x(lo), x2: x(hi), y1: y, y2: y, stroke: r.color, "stroke-width": 6, "stroke-opacity": 0.28, "stroke-linecap": "round" }));
      s.append(svg("circle", { cx: x(r.diff), cy: y, r: 4.5, fill: r.color }));
      s.append(svg("text", { x: W - RIGHT + 8, y: y + 4, text: (r.diff >= 0 ? "+" : "") + fmt(r.diff) }));
    });
    return s;
  }

  // Observed share of assignments next to the share the weights expect.
  function assignment(rows) {
    const height = TOP + rows.length * ROW + BOTTOM;
    const s = frame(height, "Assigned share vs expected");
    const x = (v) => LEFT + (W - LEFT - RIGHT) * Math.max(0, Math.min(1, v));
    for (const t of ticks(0, 1)) {
      s.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: TOP - 4, y2: height - BOTTOM }));
      s.append(svg("text", { class: "axis", x: x(t), y: height - 6, "text-anchor": "middle", text: Math.round(t * 100) + "%" }));
    }
    rows.forEach((r, i) => {
      const y = TOP + i * ROW + 5;
      s.append(svg("text", { x: LEFT - 8, y: y + 12, "text-anchor": "end", text: r.arm }));
      s.append(svg("rect", { x: LEFT, y, width: Math.max(0, x(r.observed) - LEFT), height: 14, rx: 3, fill: r.color }));
      s.append(svg("line", { x1: x(r.expected), x2: x(r.expected), y1: y - 3, y2: y + 17, stroke: "#1d2330", "stroke-width": 2 }));
      s.append(svg("text", { x: W - RIGHT + 8, y: y + 12, text: (100 * r.observed).toFixed(1) + "%" }));
    });
    return s;
  }

  // Weights over time as steps, one line per arm; `now` extends the last step.
  function weights(history, arms, colorOf, now) {
    const WW = 1180, H = 190, L = 40, R = 14, T = 24, B = 26;
    const s = svg("svg", { class: "chart wide", viewBox: `0 0 ${WW} ${H}`, role: "img", "aria-label": "weights over time" });
    s.append(svg("text", { x: 0, y: 14, "font-weight": "600", text: "Weights in force" }));
    if (!history.length) {
      s.append(svg("text", { class: "axis", x: L, y: H / 2, text: "no weight changes recorded yet" }));
      return s;
    }
    const t0 = history[0].at, t1 = Math.max(now, history[history.length - 1].at + 1);
    const x = (t) => L + (WW - L - R) * (t - t0) / (t1 - t0);
    const y = (w) => T + (H - T - B) * (1 - w);
    for (const w of [0, 0.25, 0.5, 0.75, 1]) {
      s.append(svg("line", { class: "grid", x1: L, x2: WW - R, y1: y(w), y2: y(w) }));
      s.append(svg("text", { class: "axis", x: L - 6, y: y(w) + 3, "text-anchor": "end", text: Math.round(w * 100) + "%" }));
    }
    for (const arm of arms) {
      let d = "";
      history.forEach((h, i) => {
        const w = h.weights[arm] ?? 0;
        d += i === 0 ? `M${x(h.at)},${y(w)}` : `H${x(h.at)}V${y(w)}`;
      });
      d += `H${x(t1)}`;
      s.append(svg("path", { d, fill: "none", stroke: colorOf(arm), "stroke-width": 2.5, "data-arm": arm }));
    }
    history.forEach((h) => s.append(svg("circle", { cx: x(h.at), cy: H - B + 6, r: 3, fill: "#98a2b3" })));
    s.append(svg("text", { class: "axis", x: L, y: H - 4, text: Segue.when(t0) }));
    s.append(svg("text", { class: "axis", x: WW - R, y: H - 4, "text-anchor": "end", text: Segue.when(t1) }));
    return s;
  }

  return { interval, diff, assignment, weights };
})();
