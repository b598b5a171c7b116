import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI, Request

from serving.evaluation.judging.agreement import pairwise_agreement, pointwise_agreement, spearman
from serving.evaluation.judging.base import Judge, JudgeError, PairVerdict, PlaylistItem, Verdict, pairwise, rubric_text
from serving.evaluation.judging.llm import ClientJudge, LLMClient, OpenAICompatibleJudge
from tests.quality_fakes import HashEmbedder
from serving.evaluation.judging.reference import EmbeddingReferenceJudge

P1 = [PlaylistItem(title="Jazz Song", artists=["Miles"])]
P2 = [PlaylistItem(title="Metal Song", artists=["Slayer"])]


class AlwaysFirst(Judge):
    """Pure position bias: prefers whatever is shown as A."""

    name = "always-first"

    async def score(self, prompt, playlist):
        return Verdict(fulfilment=3, coherence=3, variety=3, overall=3, rationale="")

    async def compare(self, prompt, a, b):
        return PairVerdict(winner="A", rationale="first")


class LikesJazz(AlwaysFirst):
    name = "likes-jazz"

    async def compare(self, prompt, a, b):
        return PairVerdict(winner="A" if "Jazz" in a[0].title else "B", rationale="jazz")


def test_position_swap_cancels_order_bias():
    r = asyncio.run(pairwise(AlwaysFirst(), "q", P1, P2))
    assert r.winner == "tie" and not r.consistent and r.shown_first_wins == 2
    r = asyncio.run(pairwise(LikesJazz(), "q", P2, P1))
    assert r.winner == "second" and r.consistent and r.shown_first_wins == 1


def test_rubric_names_the_three_criteria():
    text = rubric_text()
    for word in ("fulfilment", "coherence", "variety", "overall"):
        assert word in text


def _openai_app(replies: list[str], seen: list[dict]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(req: Request):
        body = await req.json()
        seen.append(body)
        return {"choices": [{"message": {"role": "assistant", "content": replies.pop(0)}}]}

    return app


def test_openai_compatible_judge_sends_json_schema_and_validates_verdicts():
    seen: list[dict] = []
    replies = [json.dumps({"fulfilment": 4, "coherence": 5, "variety": 3, "overall": 4, "rationale": "fits"}),
               json.dumps({"winner": "B", "rationale": "more jazz"}),
               json.dumps({"fulfilment": 9, "coherence": 5, "variety": 3, "overall": 4, "rationale": "x"})]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=_openai_app(replies, seen)), base_url="http://judge/v1")
    judge = OpenAICompatibleJudge("http://judge/v1", "tiny", client=client)

    async def go():
        v = await judge.score("jazz please", P1)
        pv = await judge.compare("jazz please", P2, P1)
        with pytest.raises(JudgeError, match="not a valid Verdict"):
            await judge.score("jazz please", P1)
        await judge.close()
        return v, pv

    v, pv = asyncio.run(go())
    assert v.overall == 4 and pv.winner == "B"
    rf = seen[0]["response_format"]
    assert rf["type"] == "json_schema" and set(rf["json_schema"]["schema"]["required"]) >= {"fulfilment", "overall"}
    assert "Jazz Song - Miles" in seen[0]["messages"][1]["content"]
    assert "Playlist B" in seen[1]["messages"][1]["content"]


def test_unreachable_endpoint_is_a_judge_error():
    judge = OpenAICompatibleJudge("http://127.0.0.1:9/v1", "m", timeout_s=0.5)
    with pytest.raises(JudgeError, match="unreachable"):
        asyncio.run(judge.score("q", P1))


class EchoClient(LLMClient):
    """An in-process engine stand-in implementing the LLMClient interface."""

    name = "echo"

    async def generate_json(self, messages, schema, max_tokens):
        if "winner" in schema["properties"]:
            return json.dumps({"winner": "tie", "rationale": "same"})
        return json.dumps({"fulfilment": 2, "coherence": 2, "variety": 2, "overall": 2, "rationale": "meh"})


def test_client_judge_plugs_in_an_engine():
    j = ClientJudge(EchoClient())
    assert asyncio.run(j.score("q", P1)).overall == 2
    assert asyncio.run(pairwise(j, "q", P1, P2)).winner == "tie"


def test_reference_judge_prefers_on_topic_playlists():
    j = EmbeddingReferenceJudge(HashEmbedder())
    r = asyncio.run(pairwise(j, "jazz song", P2, P1))
    assert r.winner == "second" and r.consistent
    v = asyncio.run(j.score("jazz song", P1))
    assert 1 <= v.overall <= 5


def test_spearman_and_agreement_summaries():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) != spearman([1, 1, 1], [1, 2, 3])  # nan for constant input
    rows = [{"overall": o, "fulfilment": o, "precision": p, "ndcg": p} for o, p in [(1, 0.0), (3, 0.1), (5, 0.3)]]
    assert pointwise_agreement(rows)["spearman_overall_vs_precision"] == pytest.approx(1.0)
    pr = [{"judge": "first", "truth": "first", "consistent": True, "shown_first_wins": 1},
          {"judge": "tie", "truth": "second", "consistent": False, "shown_first_wins": 2},
          {"judge": "second", "truth": "first", "consistent": True, "shown_first_wins": 1}]
    a = pairwise_agreement(pr)
    assert a["agreement_when_both_decide"] == pytest.approx(0.5) and a["shown_first_pick_rate"] == pytest.approx(4 / 6)
