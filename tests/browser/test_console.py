"""The console in a real headless Chromium against a real graph: prompts, errors, the
admin override, the experiment page's charts updating live, and a short session."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_TOKEN, EXPERIMENT_ID

PROMPT = "rainy sunday jazz, nothing too upbeat"


def test_prompt_renders_the_playlist_the_api_returns(service, page, artifacts):
    base, client = service
    want = client.playlist(PROMPT, length=8, user_id="browser-user-1")
    page.goto(f"{base}/ui")
    page.fill("#prompt", PROMPT)
    page.fill("#length", "8")
    page.fill("#user", "browser-user-1")
    page.click("#submit")
    rows = page.locator("table.tracks tbody tr")
    expect(rows).to_have_count(8)
    assert [rows.nth(i).get_attribute("data-track-id") for i in range(8)] == [t.track_id for t in want.tracks]
    expect(rows.first.locator(".title")).to_have_text(want.tracks[0].title)
    card = page.locator("section.result")
    expect(card.locator(".badge").first).to_have_text(want.arm)
    expect(card.locator("table.versions")).to_contain_text(want.versions["ranker"])
    expect(card.locator("dl.intent")).to_contain_text("jazz")
    # the trace id links to the configured trace UI (tracing is off here: no id, no link)
    expect(card).to_contain_text("trace")
    expect(page.locator("#nav-experiment")).to_have_text(f"Experiment {EXPERIMENT_ID}")
    page.screenshot(path=str(artifacts / "playground.png"), full_page=True)


def test_a_short_playlist_shows_why_it_is_short(service, page):
    # A "like X" playlist keeps its artist cap, and too few tracks fit "like Elton John" (his
    # neighbours are filed under classical): it comes back short, and says why.
    base, client = service
    want = client.playlist("songs like Elton John", length=20, user_id="browser-user-note")
    assert len(want.tracks) < 20 and want.note
    page.goto(f"{base}/ui")
    page.fill("#prompt", "songs like Elton John")
    page.fill("#length", "20")
    page.fill("#user", "browser-user-note")
    page.click("#submit")
    expect(page.locator("table.tracks tbody tr")).to_have_count(len(want.tracks))
    expect(page.locator("section.result p.note")).to_have_text(want.note)


def test_invalid_input_shows_the_servers_message(service, page, artifacts):
    base, _ = service
    page.goto(f"{base}/ui")
    page.fill("#prompt", "   ")
    page.click("#submit")
    err = page.locator("#error .error")
    expect(err).to_contain_text("422 invalid_request")
    expect(err).to_contain_text("prompt must contain some")
    page.fill("#prompt", "jazz")
    page.fill("#length", "101")
    page.click("#submit")
    expect(err).to_contain_text("length: Input should be less than or equal to 100")
    expect(page.locator("section.result")).to_have_count(0)
    page.screenshot(path=str(artifacts / "playground-error.png"), full_page=True)


def test_arm_override_needs_the_typed_token_and_shows_arms_side_by_side(service, page, artifacts):
    base, _ = service
    page.goto(f"{base}/ui")
    assert ADMIN_TOKEN not in page.content()  # the server never renders the token
    page.fill("#prompt", "heavy metal to work out to")
    page.select_option("#arm", "control")
    page.click("#submit")
    expect(page.locator("#error .error")).to_contain_text("needs the admin token")
    page.fill("#token", "wrong-token")
    page.click("#submit")
    expect(page.locator("#error .error")).to_contain_text("401 unauthorized")
    page.fill("#token", ADMIN_TOKEN)
    page.check("#compare")
    page.select_option("#arm2", "canary")
    page.click("#submit")
    cards = page.locator("section.result")
    expect(cards).to_have_count(2)
    assert [cards.nth(i).get_attribute("data-arm") for i in range(2)] == ["control", "canary"]
    expect(cards.nth(0).locator("table.versions")).to_contain_text("baseline-v1")
    expect(cards.nth(1).locator("table.versions")).to_contain_text("baseline-v2")
    expect(page.locator("#error .error")).to_have_count(0)
    page.screenshot(path=str(artifacts / "playground-side-by-side.png"), full_page=True)


def test_experiment_page_draws_charts_and_updates_live(service, page, artifacts):
    base, client = service
    before = client.experiment(EXPERIMENT_ID)
    page.goto(f"{base}/ui/experiments/{EXPERIMENT_ID}")
    expect(page.locator("#title")).to_have_text(f"Experiment {EXPERIMENT_ID}")
    charts = page.locator("#charts svg.chart")
    expect(charts).to_have_count(5)
    # like rate chart: a dot for each arm with traffic
    expect(charts.first.locator("circle")).to_have_count(2)
    expect(page.locator("#srm-verdict")).to_have_attribute("data-mismatch", str(before.srm.mismatch).lower())
    expect(page.locator("#tests .verdict")).to_have_count(2)  # like rate and conversion, canary vs control
    rows = page.locator("#arms-table tbody tr")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_attribute("data-arm") for i in range(2)] == ["control", "canary"]
    # the controller's decisions: start-up config, start at 50 %, promote to 100 %
    items = page.locator("#timeline li")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("promote")
    expect(items.nth(1)).to_contain_text("start")
    expect(page.locator("#weights-chart path")).to_have_count(2)
    page.screenshot(path=str(artifacts / "experiment.png"), full_page=True)

    # live: new traffic shows up without a reload
    served = before.arms["canary"].served
    canary_served = rows.nth(1).locator("td").nth(4)
    expect(canary_served).to_have_text(str(served))
    for i in range(3):
        client.playlist("calm piano for studying", length=5, user_id=f"browser-live-{i}")
    expect(canary_served).to_have_text(str(served + 3), timeout=15_000)
    expect(page.locator("#live")).to_have_text(re.compile("live"))


def test_unknown_experiment_page_says_why(service, page):
    base, _ = service
    page.goto(f"{base}/ui/experiments/no-such-experiment")
    expect(page.locator("#error .error")).to_contain_text("no recorded traffic")
    expect(page.locator("#error .error")).to_contain_text(EXPERIMENT_ID)  # names the running one


def test_session_view_runs_a_short_conversation(service, page, artifacts):
    """Start, like one track and dislike another, then a message: each turn's playlist is the
    API's, the disliked track never returns, the liked one stays on top, the history grows."""
    base, _ = service
    page.goto(f"{base}/ui")
    page.click("header nav >> text=Session")
    expect(page).to_have_url(re.compile(r"/ui/sessions$"))
    page.fill("#prompt", "upbeat pop hits for a dance party")
    page.fill("#length", "8")
    page.click("#start-submit")
    rows = page.locator("#playlist table.tracks tbody tr")
    expect(rows).to_have_count(8)
    first = [rows.nth(i).get_attribute("data-track-id") for i in range(8)]
    sid = page.locator("#session-id").inner_text()
    expect(page).to_have_url(re.compile(r"\?id=" + re.escape(sid) + "$"))
    arm = page.locator("#session-arm").inner_text()

    # an empty turn: the server's 422 shows, nothing else changes
    page.click("#turn-submit")
    expect(page.locator("#error .error")).to_contain_text("422 invalid_request")
    expect(page.locator("#turn-no")).to_have_text("0")

    rows.nth(0).locator("button[data-mark=liked]").click()
    rows.nth(1).locator("button[data-mark=disliked]").click()
    expect(page.locator("#marks")).to_have_text("1 liked, 1 disliked for the next turn")
    page.click("#turn-submit")
    expect(page.locator("#turn-no")).to_have_text("1")
    expect(page.locator("#error .error")).to_have_count(0)
    ids1 = [rows.nth(i).get_attribute("data-track-id") for i in range(rows.count())]
    assert ids1[0] == first[0] and first[1] not in ids1

    page.fill("#message", "more upbeat please")
    page.click("#turn-submit")
    expect(page.locator("#turn-no")).to_have_text("2")
    expect(page.locator("#edits")).to_contain_text("this turn changed")
    ids2 = [rows.nth(i).get_attribute("data-track-id") for i in range(rows.count())]
    assert ids2[0] == first[0] and first[1] not in ids2
    expect(page.locator("#session-arm")).to_have_text(arm)

    # the page shows what the API stored: three turns, newest first
    hist = httpx.get(f"{base}/v1/sessions/{sid}", timeout=30).json()
    assert [t["turn"] for t in hist["turns"]] == [0, 1, 2] and hist["disliked"] == [first[1]]
    assert hist["turns"][2]["tracks"] == ids2
    items = page.locator("#history li")
    expect(items).to_have_count(3)
    assert [items.nth(i).get_attribute("data-turn") for i in range(3)] == ["2", "1", "0"]
    expect(items.first).to_contain_text("more upbeat please")
    expect(items.nth(1)).to_contain_text("liked 1")
    page.screenshot(path=str(artifacts / "session.png"), full_page=True)

    # coming back to the session's URL shows its history
    page.goto(f"{base}/ui/sessions?id={sid}")
    expect(page.locator("#history li")).to_have_count(3)
    expect(page.locator("#session-arm")).to_have_text(arm)


def test_a_click_before_the_script_ran_waits_instead_of_being_lost(service, page):
    """The forms' buttons ship disabled and the page's script enables them once it handles the
    submit: a native submission would be blocked by the console's CSP and the click lost."""
    base, _ = service
    held = []
    page.route("**/static/session.js", lambda route: held.append(route))
    page.goto(f"{base}/ui/sessions", wait_until="commit")
    expect(page.locator("#start-submit")).to_be_disabled()
    page.wait_for_timeout(300)  # the script is held: the button must still refuse the click
    assert held, "the page never asked for its script"
    expect(page.locator("#start-submit")).to_be_disabled()
    held[0].continue_()
    expect(page.locator("#start-submit")).to_be_enabled()
    page.fill("#prompt", "upbeat pop hits for a dance party")
    page.fill("#length", "5")
    page.click("#start-submit")
    expect(page.locator("#playlist table.tracks tbody tr")).to_have_count(5)
