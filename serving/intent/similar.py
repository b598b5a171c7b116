"""'Songs like X', 'similar to X', 'X type songs', 'X style': which named artists the listener wants music
*like*, rather than music *by*; and the request text without those cue words, so that "like"
is never searched for as a title word."""

from __future__ import annotations

import re

_CUE = r"(?:sounds?\s+like|similar\s+to|in\s+the\s+(?:style|vein)\s+of|along\s+the\s+lines\s+of|reminiscent\s+of|such\s+as|like)"
# "X type songs", "X-esque"; "X style" before any word ("Frank Sinatra style crooners"
# asks for crooners like him, not for his songs only).
# "X vibes" / "the X vibe" is music with X's feel as much as "X style".
# "X sound-alikes" / "X soundalikes": music that sounds like X.
# "X type <anything>" ("rezz type dark bass music", "cody jinks type country") as much as "X type beats".
_AFTER = (r"(?:\s+(?:type|style|kind)\s+(?:of\s+)?(?:songs?|music|tracks|beats?|artists?|bands?)|[\s-]+style\b|\s+vibes?\b"
          r"|\s*-?\s*(?:esque|ish)\b|\s+sound[\s-]?alikes?\b|\s+type\b(?!\s+of\b))")
AFTER = re.compile(rf"^{_AFTER}", re.I)  # a name followed by these is cued (fallback.py: one lower-case word)


def split_similar(text: str, artists: list[str]) -> tuple[list[str], str]:
    """(artists the text asks for music like, text without the cue words before them).
    `artists` are the names the parser already recognised in the text."""
    similar: list[str] = []
    out = text
    for a in sorted(artists, key=len, reverse=True):
        # "Tyler, The Creator" as typed: "tyler the creator"; "AC/DC" as "ac dc".
        name = r"[\s,/!]+".join(re.escape(w) for w in re.split(r"[\s,/!]+", a) if w)
        if not name:
            continue
        # "X but not X" (no cue word): music like X, without X.
        pat = re.compile(rf"\b{_CUE}\s+(?:the\s+)?{name}\b|\b{name}{_AFTER}"
                         rf"|\b{name}\s*,?\s+but\s+(?:not|no|without)\s+(?:the\s+)?{name}\b", re.I)
        if pat.search(out):
            similar.append(a)
            out = re.sub(rf"\b{_CUE}\s+(?=(?:the\s+)?{name}\b)", " ", out, flags=re.I)
    # "I like rock" / "I love X": a verb, not a search word.
    out = re.sub(r"\b(?:i|we)\s+(?:really\s+)?(?:like|love|enjoy|dig)\b", " ", out, flags=re.I)
    return similar, " ".join(out.split())


def strip_like(text: str) -> str:
    """'songs like that', 'stuff like this': a leftover cue word is never a search word."""
    out = " ".join(re.sub(rf"\b{_CUE}\b", " ", text, flags=re.I).split())
    # "like X but not X" leaves a dangling "but" once the exclusion is cut out.
    return re.sub(r"(?:^|\s+)(?:but|and|or)\s*$", "", out, flags=re.I).strip(" ,")
