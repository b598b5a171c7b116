// The playground: prompt -> playlist, with the intent, versions, trace and (admin) arm override.
"use strict";
(() => {
  const { el, api, errorBox, intentRows, kvList, pct, ms } = Segue;
  const $ = (id) => document.getElementById(id);
  let config = { trace_ui_url: null, experiment: null };

  async function loadConfig() {
    try {
      config = (await api("ui/config.json")).body;
    } catch (e) {
      $("meta").textContent = "config unavailable: " + e.message;
      return;
    }
    $("meta").textContent = "segue " + config.version;
    const exp = config.experiment;
    if (!exp) return;
    const link = $("nav-experiment");
    link.href = "ui/experiments/" + encodeURIComponent(exp.id);
    link.textContent = "Experiment " + exp.id;
    link.classList.remove("hidden");
    if (!exp.allow_override) return;
    if (!exp.admin_enabled) {
      $("hint").textContent += " Arm overrides are off: the server was started without an admin token (SEGUE_ADMIN_TOKEN).";
      return;
    }
    const arms = exp.arms.map((a) => a.name).concat(exp.shadow ? [exp.shadow.name] : []);
    for (const name of arms) {
      $("arm").append(el("option", { value: name, text: name }));
      $("arm2").append(el("option", { value: name, text: name }));
    }
    if (arms.length > 1) $("arm2").value = arms[1];
    $("arm-options").classList.remove("hidden");
  }

  function intentPanel(intent, versions) {
    const rows = intentRows(intent);
    const src = intent.source || "";
    const fallback = src.startsWith("fallback_");
    rows.push(["parsed by", el("span", {},
      el("span", { class: "badge " + (fallback ? "warn" : "plain"), text: versions.intent_backend || src }),
      fallback ? el("span", { class: "small", text: "  LLM not used: " + src.replace("fallback_", "") }) :
        (src && src !== versions.intent_backend ? el("span", { class: "small muted", text: "  " + src }) : null))]);
    return kvList(rows, "kv intent");
  }

  function versionsPanel(versions) {
    return el("table", { class: "versions" },
      el("tbody", {}, Object.entries(versions).map(([k, v]) => el("tr", {}, el("td", { class: "muted", text: k }),
        el("td", { class: "mono", text: v })))));
  }

  function traceLink(traceId) {
    if (!traceId) return el("span", { class: "muted small", text: "trace: off" });
    const tpl = config.trace_ui_url;
    if (!tpl) return el("span", { class: "small" }, "trace ", el("span", { class: "mono trace-id", text: traceId }));
    return el("span", { class: "small" }, "trace ",
      el("a", { class: "mono trace-id", href: tpl.replace("{trace_id}", encodeURIComponent(traceId)),
        target: "_blank", rel: "noopener noreferrer", text: traceId }));
  }

  function feedbackButtons(playlistId, trackId) {
    const send = (event, btn) => async () => {
      try {
        await api("v1/feedback", { json: { playlist_id: playlistId, track_id: trackId, event } });
        btn.classList.add("done");
      } catch (e) {
        $("error").replaceChildren(errorBox(e));
      }
    };
    const like = el("button", { class: "mini", type: "button", title: "like", text: "like" });
    const skip = el("button", { class: "mini", type: "button", title: "skip", text: "skip" });
    like.addEventListener("click", send("like", like));
    skip.addEventListener("click", send("skip", skip));
    return el("span", {}, like, " ", skip);
  }

  function tracksTable(p) {
    const top = Math.max(...p.tracks.map((t) => t.score), 1e-9);
    const heads = [["#", "num"], ["title", ""], ["artists", ""], ["album", "album"], ["score", "num"], ["", ""]];
    return el("table", { class: "tracks" },
      el("thead", {}, el("tr", {}, heads.map(([h, cls]) => el("th", { class: cls, text: h })))),
      el("tbody", {}, p.tracks.map((t, i) => el("tr", { "data-track-id": t.track_id },
        el("td", { class: "num muted", text: i + 1 }),
        el("td", {}, el("div", { class: "title", text: t.title }), el("div", { class: "reason", text: t.reason })),
        el("td", { text: t.artists.join(", ") }),
        el("td", { class: "muted album", text: t.album || "" }),
        el("td", { class: "num" }, el("span", { class: "scorebar", "data-w": Math.round(48 * t.score / top) }), t.score.toFixed(3)),
        el("td", { class: "actions" }, feedbackButtons(p.playlist_id, t.track_id))))));
  }

  function resultCard(p, latency, forced) {
    const head = el("div", { class: "result-head" },
      el("span", {}, "arm ", el("span", { class: "badge", text: p.arm }), forced ? el("span", { class: "small muted", text: " (override)" }) : null),
      p.experiment_id ? el("span", { class: "small muted", text: "experiment " + p.experiment_id }) : null,
      el("span", { class: "small muted", text: `${p.tracks.length} tracks in ${ms(latency)}` }),
      traceLink(p.trace_id),
      el("span", { class: "small muted mono", text: "request " + p.request_id }));
    const card = el("section", { class: "card result", "data-arm": p.arm },
      head,
      el("div", { class: "grid two" },
        el("div", {}, el("h3", { text: "Intent" }), intentPanel(p.intent, p.versions)),
        el("div", {}, el("h3", { text: "Component versions" }), versionsPanel(p.versions))),
      el("h3", { text: "Playlist" }),
      // A playlist shorter than asked says why (PlaylistResponse.note): "nothing more fits" is no fault.
      p.note ? el("p", { class: "small note", text: p.note }) : null,
      p.tracks.length ? tracksTable(p) : el("p", { class: "muted", text: "No track matched; try a broader prompt." }));
    // Widths set through the CSSOM: the CSP forbids inline style attributes.
    card.querySelectorAll(".scorebar").forEach((b) => { b.style.width = b.dataset.w + "px"; });
    return card;
  }

  async function one(body, arm) {
    const headers = {};
    if (arm) {
      const token = $("token").value.trim();
      if (!token) throw Object.assign(new Error("an arm override needs the admin token (SEGUE_ADMIN_TOKEN); type it in the token field"), { code: "needs_token" });
      headers["x-segue-arm"] = arm;
      headers["authorization"] = "Bearer " + token;
    }
    const t0 = performance.now();
    const { body: p } = await api("v1/playlists", { json: body, headers });
    return resultCard(p, performance.now() - t0, Boolean(arm));
  }

  async function submit(ev) {
    ev.preventDefault();
    const body = { prompt: $("prompt").value, length: Number($("length").value || 10) };
    const user = $("user").value.trim();
    if (user) body.user_id = user;
    const arms = [$("arm").value || null];
    if ($("compare").checked && !$("arm-options").classList.contains("hidden")) arms.push($("arm2").value);
    $("submit").disabled = true;
    $("error").replaceChildren();
    try {
      const results = await Promise.allSettled(arms.map((a) => one(body, a)));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) $("error").replaceChildren(errorBox(failed.reason));
      const cards = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
      $("results").classList.toggle("compact", cards.length > 1);
      $("results").replaceChildren(...cards);
    } finally {
      $("submit").disabled = false;
    }
  }

  $("form").addEventListener("submit", submit);
  // The button ships disabled: a click before this script ran would be a native form submission,
  // which the console's CSP (form-action 'none') blocks, so the click would be lost.
  $("submit").disabled = false;
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("form").requestSubmit();
  });
  const preset = new URLSearchParams(location.search).get("prompt");
  if (preset) $("prompt").value = preset;
  loadConfig();
})();
