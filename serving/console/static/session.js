// The session view: start a conversation, like / dislike tracks, send a message, see the history.
// Everything goes through the public sessions API (POST /v1/sessions, POST /v1/sessions/{id}/turns,
// GET /v1/sessions/{id}); the page keeps only the marks of the turn being composed.
"use strict";
(() => {
  const { el, api, errorBox, chips, intentRows, kvList, ms, when } = Segue;
  const $ = (id) => document.getElementById(id);
  let sessionId = null;
  let marks = new Map(); // track id -> "liked" | "disliked", for the next turn only

  function intentLine(intent) {
    return kvList(intentRows(intent), "kv intent");
  }

  function markButton(trackId, kind, label) {
    const b = el("button", { class: "mini mark", type: "button", "data-mark": kind, "aria-pressed": "false", text: label });
    b.addEventListener("click", () => {
      marks.get(trackId) === kind ? marks.delete(trackId) : marks.set(trackId, kind);
      const row = b.closest("tr");
      row.querySelectorAll("button.mark").forEach((x) => {
        const on = marks.get(trackId) === x.dataset.mark;
        x.classList.toggle("done", on);
        x.setAttribute("aria-pressed", String(on));
      });
      row.dataset.mark = marks.get(trackId) || "";
      showMarks();
    });
    return b;
  }

  function showMarks() {
    const liked = [...marks].filter(([, k]) => k === "liked").length;
    const disliked = marks.size - liked;
    $("marks").textContent = marks.size ? `${liked} liked, ${disliked} disliked for the next turn`
      : "Mark tracks with like / dislike, then send.";
  }

  function playlistTable(tracks, liked) {
    const kept = new Set(liked);
    return el("table", { class: "tracks" },
      el("thead", {}, el("tr", {}, ["#", "title", "artists", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, tracks.map((t, i) => el("tr", { "data-track-id": t.track_id, "data-kept": kept.has(t.track_id) ? "true" : null },
        el("td", { class: "num muted", text: i + 1 }),
        el("td", {}, el("div", { class: "title", text: t.title }), el("div", { class: "reason", text: t.reason })),
        el("td", { text: t.artists.join(", ") }),
        el("td", { class: "actions" }, markButton(t.track_id, "liked", "like"), " ",
          markButton(t.track_id, "disliked", "dislike"))))));
  }

  function render(s, latency) {
    $("session").classList.remove("hidden");
    $("session").dataset.sessionId = s.session_id;
    $("session").dataset.turn = s.turn;
    $("session-head").replaceChildren(
      el("span", {}, "session ", el("span", { class: "mono", id: "session-id", text: s.session_id })),
      el("span", {}, "turn ", el("span", { class: "badge", id: "turn-no", text: s.turn })),
      el("span", {}, "arm ", el("span", { class: "badge", id: "session-arm", text: s.arm })),
      el("span", { class: "small muted", text: `${s.turns_left} turns left` }),
      latency !== undefined ? el("span", { class: "small muted", text: `${s.playlist.length} tracks in ${ms(latency)}` }) : null);
    $("edits").replaceChildren(
      s.edits.length ? el("p", { class: "small" }, "this turn changed: ", chips(s.edits)) : null,
      intentLine(s.intent),
      s.note ? el("p", { class: "small note", text: s.note }) : null);
    $("playlist").replaceChildren(s.playlist.length ? playlistTable(s.playlist, s.liked)
      : el("p", { class: "muted", text: "No track matched; say something broader." }));
    marks = new Map();
    showMarks();
  }

  function turnItem(t) {
    const what = [];
    if (t.message) what.push(el("div", { class: "message", text: `“${t.message}”` }));
    if (t.liked.length) what.push(el("div", { class: "small", text: `liked ${t.liked.length}` }));
    if (t.disliked.length) what.push(el("div", { class: "small", text: `disliked ${t.disliked.length}` }));
    if (t.edits.length) what.push(el("div", { class: "small" }, chips(t.edits)));
    return el("li", { "data-turn": t.turn },
      el("span", { class: "muted small", text: when(t.at) }),
      el("span", {}, el("span", { class: "badge plain", text: `turn ${t.turn}` })),
      el("span", {}, ...what, el("div", { class: "small muted", text: `${t.tracks.length} tracks shown` })));
  }

  async function loadHistory() {
    const { body: h } = await api("v1/sessions/" + encodeURIComponent(sessionId));
    $("history").replaceChildren(...h.turns.slice().reverse().map(turnItem));
    return h;
  }

  async function guarded(button, work) {
    button.disabled = true;
    $("error").replaceChildren();
    try {
      await work();
    } catch (e) {
      $("error").replaceChildren(errorBox(e));
    } finally {
      button.disabled = false;
    }
  }

  $("start").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded($("start-submit"), async () => {
      const body = { prompt: $("prompt").value, length: Number($("length").value || 10) };
      const user = $("user").value.trim();
      if (user) body.user_id = user;
      const t0 = performance.now();
      const { body: s } = await api("v1/sessions", { json: body });
      sessionId = s.session_id;
      history.replaceState(null, "", "?id=" + encodeURIComponent(sessionId));
      render(s, performance.now() - t0);
      await loadHistory();
    });
  });

  $("turn").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded($("turn-submit"), async () => {
      const body = {
        liked: [...marks].filter(([, k]) => k === "liked").map(([t]) => t),
        disliked: [...marks].filter(([, k]) => k === "disliked").map(([t]) => t),
      };
      const msg = $("message").value.trim();
      if (msg) body.message = msg;
      const t0 = performance.now();
      const { body: s } = await api("v1/sessions/" + encodeURIComponent(sessionId) + "/turns", { json: body });
      $("message").value = "";
      render(s, performance.now() - t0);
      await loadHistory();
    });
  });

  // Both buttons ship disabled: a click before this script ran would be a native form submission,
  // which the console's CSP (form-action 'none') blocks, so the click would be lost.
  $("start-submit").disabled = false;
  $("turn-submit").disabled = false;

  // ?id=...: come back to a session (its history; the next turn continues it).
  const resume = new URLSearchParams(location.search).get("id");
  if (resume) {
    sessionId = resume;
    loadHistory().then((h) => {
      $("session").classList.remove("hidden");
      $("session").dataset.sessionId = h.session_id;
      $("session-head").replaceChildren(
        el("span", {}, "session ", el("span", { class: "mono", id: "session-id", text: h.session_id })),
        el("span", {}, "arm ", el("span", { class: "badge", id: "session-arm", text: h.arm })));
      $("edits").replaceChildren(intentLine(h.intent));
      $("playlist").replaceChildren(el("p", { class: "muted", text: "Send a turn to see the next playlist." }));
    }).catch((e) => $("error").replaceChildren(errorBox(e)));
  }
})();
