// The experiment page: polls GET /v1/experiments/{id} and redraws; no reload needed.
"use strict";
(() => {
  const { el, api, errorBox, pct, ms, pval, wilson, when, COLORS } = Segue;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;
  const id = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
  let colorOf = () => COLORS[0];
  let lastOk = 0;

  document.title = "Segue · " + id;
  $("title").textContent = "Experiment " + id;
  $("nav-here").textContent = "Experiment " + id;

  function armColors(names, control) {
    const ordered = [control].concat(names.filter((n) => n !== control));
    const map = Object.fromEntries(ordered.map((n, i) => [n, COLORS[i % COLORS.length]]));
    return (n) => map[n] || "#98a2b3";
  }

  function srmVerdict(srm) {
    const bad = srm.mismatch;
    return el("div", { class: "verdict " + (bad ? "bad" : "good"), id: "srm-verdict", "data-mismatch": String(bad) },
      el("span", { class: "badge " + (bad ? "bad" : "good"), text: bad ? "SRM" : "split OK" }),
      el("span", {}, bad ? "Sample-ratio mismatch: the split is not what the weights say; do not trust the arms' numbers."
        : "No sample-ratio mismatch: assignments follow the weights."),
      el("span", { class: "small muted", text: `χ² ${srm.chi2 === null ? "∞" : Number(srm.chi2).toFixed(2)}, p=${pval(srm.p_value)}` }));
  }

  function armsTable(s, names) {
    const weights = s.weights || {};
    return el("table", {},
      el("thead", {}, el("tr", {}, ["arm", "weight", "assigned", "expected", "served", "errors"].map((h, i) =>
        el("th", { class: i ? "num" : "", text: h })))),
      el("tbody", {}, names.map((n) => {
        const a = s.arms[n];
        return el("tr", { "data-arm": n },
          el("td", {}, el("span", { class: "badge", text: n }), n === s.control ? el("span", { class: "small muted", text: " control" }) : null),
          el("td", { class: "num", text: weights[n] === undefined ? "–" : pct(weights[n], 1) }),
          el("td", { class: "num", text: a.assigned }),
          el("td", { class: "num", text: a.expected.toFixed(1) }),
          el("td", { class: "num", text: a.served }),
          el("td", { class: "num", text: a.errors }));
      })));
  }

  function metricCharts(s, names) {
    const rows = (f) => names.map((n) => Object.assign({ arm: n, color: colorOf(n) }, f(s.arms[n])));
    const rate = (r) => ({ value: r.rate, lo: r.ci[0], hi: r.ci[1] });
    const fmtPct = (x, axis) => pct(x, axis ? (x > 0 && x < 0.1 ? 1 : 0) : 2);
    const errRow = (a) => {
      const n = a.served + a.errors;
      const [lo, hi] = wilson(a.errors, n);
      return n ? { value: a.error_rate, lo, hi } : { value: null };
    };
    const fbRow = (a) => {
      if (a.intent_fallback_rate === null || !a.served) return { value: null };
      const [lo, hi] = wilson(Math.round(a.intent_fallback_rate * a.served), a.served);
      return { value: a.intent_fallback_rate, lo, hi };
    };
    const likeMax = Math.max(0.05, ...names.map((n) => s.arms[n].like_rate.ci[1] ?? 0).filter(isFinite)) * 1.08;
    return [
      Charts.interval("Like rate (primary)", rows((a) => rate(a.like_rate)), fmtPct, { cap: 1, max: Math.min(1, likeMax) }),
      Charts.interval("Conversion", rows((a) => rate(a.conversion)), fmtPct, { max: 1 }),
      Charts.interval("Error rate", rows(errRow), fmtPct, { cap: 1 }),
      Charts.interval("Intent fallback rate", rows(fbRow), fmtPct, { cap: 1 }),
      Charts.interval("Latency p50 – p99", rows((a) => ({ value: a.latency_p99_ms, lo: a.latency_p50_ms, hi: a.latency_p99_ms })),
        (x) => ms(x)),
    ].map((chart) => el("div", { class: "chart-box" }, chart));
  }

  function testPanel(s, names) {
    const others = names.filter((n) => n !== s.control);
    if (!others.length) return [el("p", { class: "muted", text: "Only one arm has traffic." })];
    const out = [];
    for (const metric of ["like_rate", "conversion"]) {
      const rows = others.filter((n) => s.comparisons[n] && s.comparisons[n][metric]).map((n) => {
        const c = s.comparisons[n][metric];
        return { label: n, color: colorOf(n), diff: c.diff, lo: c.ci[0], hi: c.ci[1], p: c.p_value };
      });
      if (!rows.length) continue;
      out.push(el("div", { class: "chart-box" }, Charts.diff(`${metric.replace("_", " ")}: arm − ${s.control}`, rows, (x, axis) => pct(x, axis ? 1 : 2))));
      for (const r of rows) {
        const sig = r.p < s.alpha;
        const better = sig && r.lo !== null && r.lo > 0, worse = sig && r.hi !== null && r.hi < 0;
        const cls = better ? "good" : worse ? "bad" : "wait";
        const text = better ? `${r.label} is significantly better on ${metric}` :
          worse ? `${r.label} is significantly worse on ${metric}` :
            `${r.label}: no decision on ${metric} yet; keep collecting`;
        out.push(el("div", { class: "verdict " + cls, "data-metric": metric, "data-arm": r.label },
          el("span", { class: "badge " + (better ? "good" : worse ? "bad" : "plain"), text: better ? "better" : worse ? "worse" : "running" }),
          el("span", { text }),
          el("span", { class: "small muted", text: `always-valid p=${pval(r.p)} (α ${s.alpha})` })));
      }
    }
    return out;
  }

  function actionOf(reason) {
    const m = /^(start|advance|hold|rollback|promote)\b/.exec(reason || "");
    return m ? m[1] : null;
  }

  function timeline(s, names) {
    const hist = s.weights_history || [];
    $("weights-chart").replaceChildren(Charts.weights(hist, names, colorOf, Date.now() / 1000));
    const items = hist.slice().reverse().map((h) => {
      const action = actionOf(h.reason);
      const cls = { rollback: "bad", promote: "good", advance: "", start: "", hold: "plain" }[action] ?? "plain";
      const split = Object.entries(h.weights).map(([a, w]) => `${a} ${pct(w, 1)}`).join(" · ");
      return el("li", { "data-generation": h.generation },
        el("span", { class: "small muted", text: when(h.at) }),
        el("span", {}, el("span", { class: "badge " + cls, text: action || "config" })),
        el("span", {}, el("div", { text: split }), h.reason ? el("div", { class: "small muted", text: h.reason }) : null));
    });
    $("timeline").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "No weights recorded by this Ingress yet." })]));
  }

  function shadow(s) {
    if (!s.shadow) return;
    $("shadow-card").classList.remove("hidden");
    const sh = s.shadow;
    $("shadow").replaceChildren(el("dl", { class: "kv" },
      ["runs", sh.runs, "errors", sh.errors, "dropped (over max_in_flight)", sh.dropped,
        "mean overlap with the live playlist", pct(sh.mean_overlap_with_live, 1),
        "mean latency", ms(sh.mean_latency_ms)].map((v, i) => el(i % 2 ? "dd" : "dt", { text: v }))));
  }

  function render(s) {
    // The control first, then the other arms in the order of the weights (config order).
    const order = Object.keys(s.weights || {});
    const rank = (n) => (n === s.control ? -1 : order.indexOf(n) === -1 ? 99 : order.indexOf(n));
    const names = Object.keys(s.arms).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    colorOf = armColors(names, s.control);
    $("srm").replaceChildren(srmVerdict(s.srm));
    $("arms-table").replaceChildren(armsTable(s, names));
    const total = names.reduce((t, n) => t + s.arms[n].assigned, 0);
    const expTotal = names.reduce((t, n) => t + s.arms[n].expected, 0);
    $("assign-chart").replaceChildren(Charts.assignment(names.map((n) => ({
      arm: n, color: colorOf(n), observed: total ? s.arms[n].assigned / total : 0,
      expected: expTotal ? s.arms[n].expected / expTotal : (s.weights || {})[n] || 0,
    }))));
    $("legend").replaceChildren(...names.map((n) => el("span", {}, el("i", { class: "c" + (names.indexOf(n) % 6) }), n)));
    $("legend").querySelectorAll("i").forEach((i, k) => { i.style.background = colorOf(names[k]); });
    $("charts").replaceChildren(...metricCharts(s, names));
    $("tests").replaceChildren(...testPanel(s, names));
    timeline(s, names);
    shadow(s);
    $("content").classList.remove("hidden");
  }

  async function poll() {
    try {
      const { body } = await api("v1/experiments/" + encodeURIComponent(id));
      render(body);
      $("error").replaceChildren();
      lastOk = Date.now();
      $("live").textContent = "live · updated " + new Date().toLocaleTimeString();
      $("live").classList.remove("stale");
    } catch (e) {
      $("error").replaceChildren(errorBox(e));
      $("live").textContent = lastOk ? "stale · retrying" : "waiting for data";
      $("live").classList.add("stale");
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }
  poll();
})();
