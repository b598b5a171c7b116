"""TrackTable.tag_mask finds tags with str.find plus a word-boundary check instead of one regex
per row: it must give exactly the regex's answer."""

import random
import re

import numpy as np

from serving.catalog.loader import load_catalog
from serving.intent.taxonomy import TAXONOMY
from serving.ranking.track_table import TrackTable, word_hits
from serving.text import norm


def regex_hits(text: str, phrase: str) -> list[int]:
    return [m.start() for m in re.finditer(rf"(?=\b{re.escape(phrase)}\b)", text)]


def test_word_hits_equal_the_regex_on_random_text_with_tricky_characters():
    rng = random.Random(7)
    alphabet = ["a", "b", " ", "&", "_", "é", "1", "\n", "-", "ß"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        phrase = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        assert word_hits(text, phrase) == regex_hits(text, phrase), (text, phrase)


def test_word_hits_find_overlapping_occurrences():
    # The first "x y x" is glued to 'z' (no boundary); the one overlapping it is a whole phrase.
    assert word_hits("zx y x y x", "x y x") == [5] == regex_hits("zx y x y x", "x y x")
    assert word_hits("rock&roll", "roll") == [5]  # '&' is no word character, as for \b
    assert word_hits("rocky", "rock") == []


def test_tag_masks_equal_a_per_row_regex_on_the_shipped_catalog():
    tracks = load_catalog().tracks[:3000]
    table = TrackTable(tracks, "v")
    tags = sorted({norm(t.name) for t in TAXONOMY if norm(t.name)} | {"rock", "love", "a", "the end"})
    for tag in tags:
        r = re.compile(rf"\b{re.escape(tag)}\b")
        want = np.array([r.search(x) is not None for x in table.text])
        assert (table.tag_mask(tag) == want).all(), tag
    assert table.tag_mask("rock").any()
