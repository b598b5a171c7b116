// Shared helpers of the Segue console. Everything the server sends is put into the page
// as text (textContent / attributes), never as HTML.
"use strict";

const Segue = (() => {
  const COLORS = ["#4f46e5", "#e07b00", "#0f8a5f", "#c2362b", "#7c3aed", "#0e7490"];
  const SVGNS = "http://www.w3.org/2000/svg";

  // The API root relative to this page, so the console works under any route prefix.
  const root = new URL(document.body.dataset.root || "./", location.href);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c) e.append(c);
    return e;
  }

  function chips(values, cls) {
    return el("span", { class: "chips" }, values.map((v) => el("span", { class: cls || "", text: v })));
  }

  // [label, value] rows of what an intent asks for: the playground and the session view show them.
  function intentRows(intent) {
    const rows = [["search text", intent.search_text || "–"]];
    const tags = [].concat(intent.genres || [], intent.moods || [], intent.activities || []);
    if (tags.length) rows.push(["tags", chips(tags)]);
    if ((intent.include_artists || []).length) rows.push(["artists", chips(intent.include_artists)]);
    const no = [].concat(intent.exclude_artists || [], intent.exclude_terms || []);
    if (no.length) rows.push(["avoid", chips(no, "no")]);
    if (intent.era) rows.push(["era", `${intent.era.start}–${intent.era.end}`]);
    if (intent.energy !== null && intent.energy !== undefined) rows.push(["energy", intent.energy.toFixed(2)]);
    return rows;
  }

  function kvList(rows, cls) {
    return el("dl", { class: cls }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
  }

  // fetch + the server's error body ({error, message, request_id}) turned into an Error.
  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["content-type"] = "application/json";
      opts.method = opts.method || "POST";
      delete opts.json;
    }
    let res;
    try {
      res = await fetch(new URL(path, root), opts);
    } catch (e) {
      throw Object.assign(new Error("the server could not be reached (" + e.message + ")"), { status: 0, code: "network" });
    }
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (!res.ok) {
      const msg = (body && (body.message || body.detail)) || res.statusText || "request failed";
      throw Object.assign(new Error(typeof msg === "string" ? msg : JSON.stringify(msg)), {
        status: res.status, code: (body && body.error) || "http_error",
        requestId: (body && body.request_id) || res.headers.get("x-request-id"),
      });
    }
    return { body, headers: res.headers };
  }

  function errorBox(err) {
    return el("div", { class: "error", role: "alert" },
      el("span", { class: "code", text: (err.status ? `${err.status} ${err.code}` : err.code || "error") + " " }),
      el("span", { class: "message", text: err.message }),
      err.requestId ? el("span", { class: "small muted", text: `  (request ${err.requestId})` }) : null);
  }

  const pct = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x)) ? "–" : (100 * x).toFixed(d) + "%";
  const num = (x, d = 3) => (x === null || x === undefined) ? "–" : Number(x).toPrecision(d);
  const ms = (x) => (x === null || x === undefined) ? "–" : (x >= 100 ? x.toFixed(0) : x.toFixed(1)) + " ms";
  const pval = (p) => (p === null || p === undefined) ? "–" : (p < 0.0001 ? p.toExponential(1) : p.toFixed(4));

  // Wilson score interval (95%) for rates the summary gives as plain numbers.
  function wilson(k, n) {
    if (!n) return [0, 1];
    const z = 1.959964, p = k / n, d = 1 + z * z / n;
    const c = (p + z * z / (2 * n)) / d, h = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
    return [Math.max(0, c - h), Math.min(1, c + h)];
  }

  function when(ts) {
    const d = new Date(ts * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  return { el, svg, api, errorBox, chips, intentRows, kvList, pct, num, ms, pval, wilson, when, root, COLORS };
})();
