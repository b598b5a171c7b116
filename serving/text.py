"""The one text normaliser: how artist names, tags and titles are compared everywhere (retrieval
filters, ranking features, LLM intent clean-up, recording keys). A leaf: imports nothing of serving."""

from __future__ import annotations

import functools
import re

_NOT_WORD_OR_AMP = re.compile(r"[^\w&]+")
_NOT_WORD = re.compile(r"[^\w]+")


# Called per candidate on the request path (artist lookups, filters), mostly on catalog strings:
# a pure function, so remembering it cannot go stale; bounded, so prompts cannot grow it.
@functools.lru_cache(maxsize=1 << 17)
def norm(s: str, keep_ampersand: bool = True) -> str:
    """Lower case; every run of other characters becomes one space; ends trimmed.
    '&' is a word by default ("Simon & Garfunkel" is not "Simon Garfunkel"); recording keys drop it,
    because the shipped ranker priors are keyed that way."""
    return (_NOT_WORD_OR_AMP if keep_ampersand else _NOT_WORD).sub(" ", s.lower()).strip()
