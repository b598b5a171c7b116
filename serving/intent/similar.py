"""'Songs like X', 'similar to X', 'X type songs', 'X style': which named artists the listener wants music
*like*, rather than music *by*; and the request text without those cue words, so that "like"
is never searched for as a title word."""

from __future__ import annotations

import re

# Since session 16 (MORE_PHRASINGS): "in the same (chaotic) lane as X", "the same vibe as X", "the likes
# of X"; a "more like that" after the names; names listed with one asked about. Before, each of those
# read as music *by* X ("I love John Coltrane, what else would I like": 18 of 20 tracks his).
MORE_PHRASINGS = True
_BASE_CUE = (r"(?:sounds?\s+like|similar\s+to|in\s+the\s+(?:style|vein)\s+of|along\s+the\s+lines\s+of"
             r"|reminiscent\s+of|such\s+as|like)")
_CUE = (r"(?:the\s+likes\s+of|(?:in\s+)?the\s+same\s+(?:\w+\s+)?(?:lane|vein|mou?ld|league|spirit|world|space|vibes?"
        rf"|sound|feel|energy|style)\s+as|{_BASE_CUE})")
# Said after naming artists, these ask for music like them: "I love Coltrane, what else would I like",
# "Stevie Wonder, give me more like that".
_BACK = re.compile(r"(?:\b(?:more|others?|something|stuff|songs|music|artists|bands|anything|ones|similar)\s+"
                   r"(?:like|to)\s+(?:that|this|them|him|her|those|these)\b"
                   r"|\bwhat\s+else\s+(?:would|should|could|might|will|do|can)\s+(?:i|we)\s+"
                   r"(?:like|love|enjoy|dig|check\s+out|listen\s+to)\b)", re.I)
# Names joined to one asked about ("like Parliament and Rick James", "Drake or Future type beats").
_JOIN = r"\s*(?:,\s*(?:and\s+|or\s+)?|\s(?:and|or|&)\s+)(?:the\s+)?"
# Names end with a full stop or a bang ("The Notorious B.I.G.", "Nice!"): no \b after those.
_L, _R = r"(?<!\w)", r"(?!\w)"
# "X type songs", "X-esque"; "X style" before any word ("Frank Sinatra style crooners"
# asks for crooners like him, not for his songs only).
# "X vibes" / "the X vibe" is music with X's feel as much as "X style".
# "X sound-alikes" / "X soundalikes": music that sounds like X.
# "X type <anything>" ("rezz type dark bass music", "cody jinks type country") as much as "X type beats".
_AFTER = (r"(?:\s+(?:type|style|kind)\s+(?:of\s+)?(?:songs?|music|tracks|beats?|artists?|bands?)|[\s-]+style\b|\s+vibes?\b"
          r"|\s*-?\s*(?:esque|ish)\b|\s+sound[\s-]?alikes?\b|\s+type\b(?!\s+of\b))")
AFTER = re.compile(rf"^{_AFTER}", re.I)  # a name followed by these is cued (fallback.py: one lower-case word)
# "pop punk in the blink-182 lane" (since session 20, with MORE_PHRASINGS): the same as "in the same lane
# as X". Only with "in the" before the name: "a trip down memory lane" names nobody.
LANE_BEFORE, LANE_AFTER = re.compile(r"\bin\s+the\s+$", re.I), re.compile(r"^\s+lane\b", re.I)


def _pattern(a: str) -> str:
    """A name as typed: "Tyler, The Creator" as "tyler the creator"; "AC/DC" as "ac dc"."""
    return r"[\s,/!]+".join(re.escape(w) for w in re.split(r"[\s,/!]+", a) if w)


def split_similar(text: str, artists: list[str], excluded: list[str] = ()) -> tuple[list[str], str]:
    """(artists the text asks for music like, text without the cue words before them).
    `artists` are the names the parser already recognised in the text; `excluded` those of them it
    excludes, which a cue before their own name makes "like X but not X" but a list or a "more like
    that" never reaches ("no Michael Jackson! I'd prefer Elton John, something like that")."""
    names = {a: _pattern(a) for a in sorted(artists, key=len, reverse=True)}
    names = {a: p for a, p in names.items() if p}
    similar: list[str] = []
    out = text
    cue = _CUE if MORE_PHRASINGS else _BASE_CUE
    for a, name in names.items():
        # "X but not X" (no cue word): music like X, without X.
        lane = rf"\bin\s+the\s+({name})\s+lane\b"
        pat = re.compile(rf"\b{cue}\s+(?:the\s+)?{_L}{name}{_R}|{_L}{name}{_R}{_AFTER}"
                         rf"|{_L}{name}{_R}\s*,?\s+but\s+(?:not|no|without)\s+(?:the\s+)?{_L}{name}{_R}"
                         + (f"|{lane}" if MORE_PHRASINGS else ""), re.I)
        if pat.search(out):
            similar.append(a)
            out = re.sub(rf"\b{cue}\s+(?=(?:the\s+)?{_L}{name}{_R})", " ", out, flags=re.I)
            out = re.sub(lane, r" \1 ", out, flags=re.I)
    back = _BACK.search(out) if MORE_PHRASINGS else None
    if back:
        low = out[:back.start()].lower()
        similar += [a for a, name in names.items()
                    if a not in similar and a not in excluded and re.search(rf"{_L}{name}{_R}", low, re.I)]
        out = out[:back.start()] + " " + out[back.end():]
    grew = bool(similar) and MORE_PHRASINGS
    while grew:  # names in a list with one asked about
        grew = False
        for a, name in names.items():
            if a in similar or a in excluded:
                continue
            for b in similar:
                other = names[b]
                if re.search(rf"{_L}{other}{_R}{_JOIN}{_L}{name}{_R}|{_L}{name}{_R}{_JOIN}{_L}{other}{_R}", out, re.I):
                    similar.append(a)
                    grew = True
                    break
    # "I like rock" / "I love X": a verb, not a search word.
    out = re.sub(r"\b(?:i|we)\s+(?:really\s+)?(?:like|love|enjoy|dig)\b", " ", out, flags=re.I)
    return similar, " ".join(out.split())


def strip_like(text: str) -> str:
    """'songs like that', 'stuff like this': a leftover cue word is never a search word."""
    out = " ".join(re.sub(rf"\b{_CUE}\b", " ", text, flags=re.I).split())
    # "like X but not X" leaves a dangling "but" once the exclusion is cut out.
    return re.sub(r"(?:^|\s+)(?:but|and|or)\s*$", "", out, flags=re.I).strip(" ,")
