"""Messages that ask for nothing: "Hello", "Hi there", "ok", "thank you!", "these are great".

A listener opens with a greeting and answers a playlist with thanks or praise. Searched as text,
"Hello" finds songs titled "Hello", and "these are perfect!" adds "perfect" to a session's search
words (the catalog has ten tracks titled "Perfect"). Such a message carries no request: the parser
gives it an empty intent, a session keeps the intent it had, and a request that asks for nothing
at all gets the tracks listeners keep most (`LearnedRanker`) instead of title matches on a greeting.

The word list is conversational English (greetings, thanks, assent, praise, the words that hold
them together); a message is chatter only when *every* word is on it, so "good music for a
party" or "Perfect by Ed Sheeran" are requests as usual.
"""

from __future__ import annotations

import re

from serving.intent.model import Intent

_WORDS = frozenset("""
hi hii hiya hello helo hallo hey heya howdy greetings yo morning afternoon evening day good
there wizard dj friend buddy everyone everybody all folks bot assistant segue
how are you doing today its it's it is
ok okay k kk alright yes yeah yea yep yup sure right
thanks thank thx ty much so very really
great perfect awesome amazing cool nice lovely excellent fantastic wonderful beautiful brilliant fine superb
sounds sound looks look seems these this that those they them are is was were be i we love like liked
far pretty quite wow oh ah ahh ooh oooh and too
""".split())
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def is_chatter(text: str) -> bool:
    """True when every word of `text` is conversational (and there is at least one)."""
    words = _WORD.findall(text.lower())
    return bool(words) and all(w in _WORDS for w in words)


def asks_nothing(intent: Intent) -> bool:
    """No words to search for (or only chatter), no tags, artists, era or energy: an open request.
    Exclusions alone ("anything but Drake") still ask for nothing in particular."""
    return not (intent.genres or intent.moods or intent.activities or intent.include_artists
                or intent.similar_artists or intent.era is not None or intent.energy is not None) \
        and (not intent.search_text.strip() or is_chatter(intent.search_text))
