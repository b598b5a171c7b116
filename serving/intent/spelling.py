"""Artist names typed with one slip: "if i like ornette colman" means Ornette Coleman.

A listener who misspells a name gets nothing the name would have given (no "like X", no X's
tracks, a genre guessed from whatever the words match). This corrects a word only where it is
safe to: the word is not one the catalog uses anywhere (no title, album or artist holds it), it is
one edit (insert, delete, substitute, swap two neighbours) from a word of a multi-word artist
name, and with that word replaced the words around it spell the whole name. One slip per name;
names of one word are never guessed ("Drak" could be anything). Lookups go through an index of
each name word and its one-letter deletions (symmetric delete), so a prompt costs a few set
lookups, not a pass over the catalog. Genre and mood words are not corrected: the same rule over
the taxonomy's keywords, without an English word list, read "just got dumped" as "pumped" and
"wrapping presents" as "rapping".
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

_WORD = re.compile(r"[^\W\d_][\w'&.\-]*")
MIN_WORD = 5  # shorter words are one edit from too many others ("lane" / "lana" / "lang")
MIN_NAME = 10  # letters in the whole name: "Bon Iver" is two short words, one slip from many phrases
CORRECT = True  # off: names are read only as typed (the ablation tool's "name_spelling" signal)


def _deletes(w: str) -> set[str]:
    return {w[:i] + w[i + 1:] for i in range(len(w))}


def within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance <= 1."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    return any(b[:i] + b[i + 1:] == a for i in range(len(b)))


class NameSpeller:
    def __init__(self, names: dict[str, str], vocabulary: Iterable[str]):
        """`names`: the parser's artist keys (lower-case word sequences) -> display name;
        `vocabulary`: every word the catalog uses (titles, albums, artists), any case."""
        self._names = {k: v for k, v in names.items() if len(k.split()) > 1 and sum(c.isalpha() for c in k) >= MIN_NAME}
        self._vocab = {w.lower() for w in vocabulary} | {w for k in names for w in k.split()}  # names are spelt right
        self._index: dict[str, set[str]] = defaultdict(set)
        for key in self._names:
            for w in key.split():
                if len(w) >= MIN_WORD and w.isalpha():
                    self._index[w].add(w)
                    for d in _deletes(w):
                        self._index[d].add(w)
        self._max_words = max((len(k.split()) for k in self._names), default=0)

    def _candidates(self, w: str) -> set[str]:
        out = set(self._index.get(w, ()))
        for d in _deletes(w):
            out |= self._index.get(d, set())
        return {c for c in out if c != w and within_one_edit(w, c)}

    def correct(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """`text` with misspelled multi-word artist names replaced by the names as the catalog
        writes them, and the (typed, corrected) pairs."""
        if not CORRECT or not self._names:
            return text, []
        spans = [(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(text)]
        low = [s[2].lower().strip(".") for s in spans]
        fixes: list[tuple[int, int, str]] = []
        for i, w in enumerate(low):
            if len(w) < MIN_WORD or not w.isalpha() or w in self._vocab or any(a <= i <= b for a, b, _ in fixes):
                continue
            found = set()
            for c in self._candidates(w):
                for size in range(2, self._max_words + 1):
                    for start in range(max(0, i - size + 1), min(i, len(low) - size) + 1):
                        window = low[start:start + size]
                        window[i - start] = c
                        name = self._names.get(" ".join(window))
                        if name is not None:
                            found.add((start, start + size - 1, name))
            if len({f[2] for f in found}) == 1:  # one reading only: two would be a guess
                fixes.append(max(found, key=lambda f: f[1] - f[0]))
        if not fixes:
            return text, []
        out, done, pos = [], [], 0
        for a, b, name in sorted(fixes):
            end = spans[b][1] - (len(spans[b][2]) - len(spans[b][2].rstrip(".")))  # a full stop is not the name's
            out += [text[pos:spans[a][0]], name]
            done.append((text[spans[a][0]:end], name))
            pos = end
        out.append(text[pos:])
        return "".join(out), done


def catalog_words(tracks) -> set[str]:
    """Every word the catalog's titles, albums and artist names use (lower case)."""
    words: set[str] = set()
    for t in tracks:
        for text in (t.title, t.album or "", *t.artists):
            words.update(w.lower().strip(".") for w in _WORD.findall(text))
    return words
