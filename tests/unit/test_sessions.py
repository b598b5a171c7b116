"""Sessions end to end in one process: the engine over the real in-process stages (mini catalog),
the service's rules, and the SQLite store (the embedded default) including a restart."""

import asyncio

import pytest

from serving.config import AppConfig
from serving.errors import Conflict, InvalidRequest, NotFound
from serving.pipeline import InProcessStages
from serving.schemas import RequestContext
from serving.sessions.engine import SessionEngine
from serving.sessions.schemas import SessionRequest, TurnRequest
from serving.sessions.service import SessionService
from serving.sessions.store import SqlSessionRepository
from serving.store import open_database
from serving.store.config import StoreConfig
from serving.store.writer import BatchWriter


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def stages(mini_catalog_path, tmp_path_factory):
    # baseline-v1: the shipped learned ranker borrows tracks from CPCD priors, outside this mini catalog.
    cfg = AppConfig.from_dict({"catalog": {"path": str(mini_catalog_path)}, "ranking": {"version": "baseline-v1"},
                               "retrieval": {"cache_dir": str(tmp_path_factory.mktemp("cache"))}})
    return cfg, InProcessStages.from_config(cfg)


def _service(stages, db_path, clock, **sessions):
    cfg, st = stages
    cfg = cfg.model_copy(update={"sessions": cfg.sessions.model_copy(update=sessions)})
    db = open_database(StoreConfig(sqlite_path=str(db_path)))
    return SessionService(SessionEngine(st, cfg, clock=clock), SqlSessionRepository(db, BatchWriter(db)),
                          cfg.sessions, clock=clock)


def run(coro):
    return asyncio.run(coro)


async def _turn(svc, sid, **body):
    b = TurnRequest(**body)
    state = await svc.load_for_turn(sid, b)
    return await svc.turn(state, b, svc.turn_context(state, RequestContext()))


def test_a_four_turn_session(stages, tmp_path):
    clock = Clock()
    svc = _service(stages, tmp_path / "s.db", clock)
    ctx = RequestContext(arm="canary", experiment_id="exp-1")
    r0 = run(svc.create(SessionRequest(prompt="heavy metal to work out to", length=15, user_id="u1"), ctx))
    assert r0.turn == 0 and len(r0.playlist) == 15 and r0.arm == "canary" and r0.note is None
    first = [t.track_id for t in r0.playlist]

    # like two, dislike one: liked stay on top, the disliked never comes back
    r1 = run(_turn(svc, r0.session_id, liked=first[:2], disliked=[first[2]]))
    ids1 = [t.track_id for t in r1.playlist]
    assert ids1[:2] == first[:2] and first[2] not in ids1 and r1.turn == 1

    # add an artist: it appears
    r2 = run(_turn(svc, r0.session_id, message="add some Lojay"))
    assert any("Lojay" in t.artists for t in r2.playlist) and "Lojay" in r2.intent.include_artists
    assert first[2] not in [t.track_id for t in r2.playlist]

    # exclude an artist: gone, even among earlier likes
    r3 = run(_turn(svc, r0.session_id, message="no more Metallica"))
    assert all("Metallica" not in t.artists for t in r3.playlist)
    assert first[2] not in [t.track_id for t in r3.playlist]
    assert {r1.arm, r2.arm, r3.arm} == {"canary"}  # the arm is the session's, never re-assigned

    # a restart: a new repository over the same file has every turn
    svc2 = _service(stages, tmp_path / "s.db", clock)
    h = run(svc2.history(r0.session_id))
    assert [t.turn for t in h.turns] == [0, 1, 2, 3] and h.disliked == [first[2]] and h.arm == "canary"
    assert h.turns[2].message == "add some Lojay" and h.turns[3].tracks == [t.track_id for t in r3.playlist]


def test_a_turn_shorter_than_the_session_length_says_why(stages, tmp_path):
    svc = _service(stages, tmp_path / "s.db", Clock())
    r0 = run(svc.create(SessionRequest(prompt="songs like Metallica", length=100), RequestContext()))
    assert len(r0.playlist) < 100
    assert r0.note.startswith(f"{len(r0.playlist)} of 100 tracks: a playlist like Metallica"), r0.note


def test_keep_the_first_five(stages, tmp_path):
    svc = _service(stages, tmp_path / "s.db", Clock())
    r0 = run(svc.create(SessionRequest(prompt="heavy metal", length=10), RequestContext()))
    r1 = run(_turn(svc, r0.session_id, message="keep the first five, the rest more like Lady Gaga"))
    assert [t.track_id for t in r1.playlist][:5] == [t.track_id for t in r0.playlist][:5]


def test_errors(stages, tmp_path):
    clock = Clock()
    svc = _service(stages, tmp_path / "s.db", clock, max_turns=2, ttl_s=100)
    with pytest.raises(NotFound, match="does not exist"):
        run(_turn(svc, "s_nope", message="more"))
    r0 = run(svc.create(SessionRequest(prompt="heavy metal", length=5), RequestContext()))
    with pytest.raises(InvalidRequest, match=r"liked\[1\]: track 'not-a-track' is not in the catalog"):
        run(_turn(svc, r0.session_id, liked=[r0.playlist[0].track_id, "not-a-track"]))
    run(_turn(svc, r0.session_id, message="more upbeat"))
    with pytest.raises(Conflict, match="limit of 2 turns"):
        run(_turn(svc, r0.session_id, message="more"))
    clock.now += 101
    with pytest.raises(NotFound, match="expired"):
        run(svc.history(r0.session_id))


def test_empty_turn_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="a turn needs a message, liked or disliked"):
        TurnRequest(message="   ")
    with pytest.raises(ValueError, match="both liked and disliked"):
        TurnRequest(liked=["a"], disliked=["a"])


def test_store_guards_concurrent_turns_and_bounds_size(tmp_path):
    from serving.intent.model import Intent
    from serving.sessions.state import DialogState, TurnRecord

    db = open_database(StoreConfig(sqlite_path=str(tmp_path / "s.db")))
    repo = SqlSessionRepository(db, BatchWriter(db))

    def state(sid, turns, at):
        i = Intent(search_text="x")
        return DialogState(session_id=sid, intent=i, created_at=at, updated_at=at,
                           turns=[TurnRecord(turn=n, intent=i) for n in range(turns)])

    async def go():
        assert await repo.put(state("a", 1, 1.0), 0)
        assert not await repo.put(state("a", 1, 1.0), 0)  # the id exists
        assert await repo.put(state("a", 2, 2.0), 1)
        assert not await repo.put(state("a", 2, 3.0), 1)  # a concurrent turn 1 lost the race
        for n, sid in enumerate("bcd"):
            await repo.put(state(sid, 1, 10.0 + n), 0)
        gone = await repo.purge(expired_before=5.0, keep=2)  # "a" expired; then only the newest 2 stay
        return gone, [s for s in "abcd" if await repo.get(s) is not None]

    assert run(go()) == (2, ["c", "d"])


def test_ingress_routes_serve_a_session_with_a_sticky_arm(stages, tmp_path):
    """The Ingress's session logic in process (the e2e tier runs it behind Serve over HTTP)."""
    from starlette.requests import Request

    from serving.ingress import IngressCore

    cfg, st = stages
    exp = {"id": "s-exp", "salt": "s", "arms": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}]}
    cfg = cfg.model_copy(update={"experiment": AppConfig.from_dict({"experiment": exp}).experiment})
    svc = _service((cfg, st), tmp_path / "s.db", Clock())
    core = IngressCore(st, cfg, sessions=svc)

    def req():
        return Request({"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""})

    r0 = run(core.create_session(SessionRequest(prompt="heavy metal", length=5, user_id="u-7"), req()))
    r1 = run(core.session_turn(r0.session_id, TurnRequest(message="no more Metallica"), req()))
    assert r1.arm == r0.arm and r1.turn == 1 and all("Metallica" not in t.artists for t in r1.playlist)
    assert [t.turn for t in run(core.session_history(r0.session_id)).turns] == [0, 1]


def test_the_retriever_sends_the_disliked_tracks_vectors_in_order(stages):
    import numpy as np

    from serving.schemas import Feedback

    _, st = stages
    r = st.retriever
    a, b = r.catalog.tracks[3].track_id, r.catalog.tracks[7].track_id
    v = r.feedback_vectors(Feedback(liked=(a,), disliked=(b, "not-a-track", a)))
    assert v.disliked.shape == (2, r.index.vectors.shape[1]) and v.disliked.dtype == np.float32
    assert np.allclose(v.disliked[0], r.index.vectors[7]) and np.allclose(v.disliked[1], r.index.vectors[3])
    assert r.feedback_vectors(Feedback(liked=(a,))).disliked.shape[0] == 0
