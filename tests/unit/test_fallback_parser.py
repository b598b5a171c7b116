import datetime as dt

import pytest

from serving.intent.fallback import FastParser
from serving.intent.model import IntentSource

TODAY = dt.date(2026, 11, 22)
ARTISTS = ["Daft Punk", "Eminem", "Nicki Minaj", "Hank Williams", "Buck Owens", "Blue", "Metallica"]


@pytest.fixture(scope="module")
def parser(embedder):
    return FastParser(embedder, ARTISTS, today=TODAY)


@pytest.fixture(scope="module")
def rules_only():
    return FastParser(None, ARTISTS, today=TODAY)


@pytest.mark.parametrize(
    "prompt, start, end",
    [
        ("upbeat 80s synthpop", 1980, 1989),
        ("1990s grunge", 1990, 1999),
        ("2000s emo", 2000, 2009),
        ("the eighties please", 1980, 1989),
        ("hits from 1995", 1995, 1995),
        ("songs from the last 5 years", 2021, 2026),
        ("rock since 2010", 2010, 2026),
    ],
)
def test_eras(rules_only, prompt, start, end):
    era = rules_only.parse(prompt).era
    assert (era.start, era.end) == (start, end)


def test_exclusions_split_into_artists_and_terms(rules_only):
    i = rules_only.parse("90s hip hop without Eminem, no ballads")
    assert i.exclude_artists == ["Eminem"]
    assert i.exclude_terms == ["ballads"]
    assert i.genres == ["hip hop"]


@pytest.mark.parametrize("prompt, excluded", [
    ("perreo lento pa dedicarle a mi jeva, pero nada de bad bunny", ["Bad Bunny"]),  # was an include
    ("reggaeton sin Bad Bunny", ["Bad Bunny"]),
    ("deutschrap ohne Eminem", ["Eminem"]),
    ("du rap, pas de Eminem", ["Eminem"]),
    ("bay area hyphy, but no too $hort", ["Too $hort"]),  # "too" begins the name, not "not too"
])
def test_exclusions_in_other_languages_and_names_starting_with_a_qualifier(prompt, excluded):
    p = FastParser(None, ["Bad Bunny", "Too $hort", "Eminem", "Sin Bandera"], today=TODAY)
    i = p.parse(prompt)
    assert i.exclude_artists == excluded
    assert i.include_artists == []
    assert excluded[0].lower() not in i.search_text.lower()  # the excluded name is not searched for


def test_sin_is_a_cue_only_before_an_artist():
    p = FastParser(None, ["Bad Bunny", "Sin Bandera"], today=TODAY)
    assert p.parse("songs about sin and redemption").exclude_terms == []
    assert p.parse("sin city rock").exclude_terms == []
    i = p.parse("pop latino de Sin Bandera")
    assert i.include_artists == ["Sin Bandera"] and i.exclude_artists == []


def test_excluded_recent_years_become_an_earlier_era(rules_only):
    i = rules_only.parse("something like Daft Punk but more chill, nothing from the last 5 years")
    assert i.similar_artists == ["Daft Punk"] and i.include_artists == []  # music like them, not by them
    assert i.era is not None and i.era.end == 2020
    assert "punk" not in i.genres  # the artist's name is not a genre request


def test_nothing_too_upbeat_lowers_energy(parser):
    i = parser.parse("rainy sunday jazz, nothing too upbeat")
    assert "jazz" in i.genres
    assert "energetic" not in i.moods
    assert i.energy is not None and i.energy <= 0.4
    assert i.search_text == "rainy sunday jazz"


def test_zero_shot_tags_without_keywords(parser):
    # No taxonomy keyword appears here: the tags come from embedding similarity.
    i = parser.parse("something to fall asleep to tonight")
    assert "sleep" in i.activities


def test_artists_single_word_needs_a_cue_or_capital(rules_only):
    assert rules_only.parse("feeling blue tonight").include_artists == []
    assert rules_only.parse("songs by Metallica").include_artists == ["Metallica"]
    assert rules_only.parse("hank williams and buck owens").include_artists == ["Hank Williams", "Buck Owens"]


def test_length_and_filler(rules_only):
    i = rules_only.parse("Hi! Can you make me a playlist of 25 songs of 90s hip hop")
    assert i.length == 25
    assert "playlist" not in i.search_text.lower() and "25" not in i.search_text


@pytest.mark.parametrize("prompt", ["", "   ", "\x00\x01", '"""\\\\', "no", "without", "x" * 2000, "ñ 🎷 جاز"])
def test_never_raises_and_output_validates(parser, prompt):
    i = parser.parse(prompt)
    assert i.source == IntentSource.fallback
    assert '"' not in i.search_text and "\\" not in i.search_text


# --- "like X", genre words that are not artists (issue 14) ------------------------------------
def _like_parser():
    from serving.intent.fallback import FastParser

    return FastParser(embedder=None, artists=["Radiohead", "Classic Rock", "Led Zeppelin", "Kendrick Lamar",
                                              "Drake", "Daft Punk", "Lojay"])


def test_like_x_but_not_x():
    i = _like_parser().parse("songs like Radiohead but not Radiohead")
    assert i.similar_artists == ["Radiohead"] and i.exclude_artists == ["Radiohead"]
    assert i.include_artists == [] and "like" not in i.search_text.lower().split()
    assert not i.search_text.lower().endswith("but")


def test_like_x_is_not_a_request_for_x_and_like_is_no_search_word():
    p = _like_parser()
    i = p.parse("more like Kendrick Lamar")
    assert i.similar_artists == ["Kendrick Lamar"] and i.include_artists == []
    assert "like" not in i.search_text.lower()
    assert p.parse("Drake type songs from other artists").similar_artists == ["Drake"]
    for prompt in ("Drake style crooners", "in the style of Drake"):
        i = p.parse(prompt)
        assert i.similar_artists == ["Drake"] and i.include_artists == [], prompt
    assert p.parse("Drake songs in any style").similar_artists == []
    assert p.parse("songs from Lojay").include_artists == ["Lojay"]
    assert p.parse("artists like Daft Punk").genres == []  # "Daft Punk" is not punk


def test_genre_words_are_not_artists():
    i = _like_parser().parse("classic rock from the 70s, no Led Zeppelin")
    assert i.include_artists == [] and i.genres == ["classic rock"] and i.exclude_artists == ["Led Zeppelin"]
    assert i.era is not None and i.era.start == 1970


def test_music_described_in_lower_case_is_no_compilation_artist():
    """Catalogs credit compilations to "artists" named by their contents; typed in lower case
    and uncued, such words describe the music. Capitalised, cued or with a real name word they
    still name the artist."""
    from serving.intent.fallback import FastParser

    p = FastParser(embedder=None, artists=["Pop Hits", "Rock Classics", "House of Pain", "Soul Asylum"])
    assert p.parse("upbeat pop hits for a dance party").include_artists == []
    assert p.parse("some rock classics for the car").include_artists == []
    assert p.parse("play Pop Hits").include_artists == ["Pop Hits"]
    assert p.parse("songs by pop hits").include_artists == ["Pop Hits"]
    assert p.parse("house of pain and soul asylum").include_artists == ["House of Pain", "Soul Asylum"]


@pytest.mark.parametrize("prompt, genre", [
    ("hiphop for the gym", "hip hop"), ("uk drill", "hip hop"), ("some motown classics", "r&b"),
    ("new jack swing party", "r&b"), ("dubstep to work out", "electronic"), ("80s synthpop", "electronic"),
    ("praise and worship on sunday", "gospel"), ("j-pop for studying", "pop"), ("mariachi for a fiesta", "latin"),
    ("90s grunge", "rock"), ("shoegaze", "indie"), ("broadway musicals", "soundtrack"), ("baroque", "classical"),
    ("americana road songs", "country"), ("highlife", "afrobeats"), ("new age for yoga", "ambient"),
])
def test_common_genre_names_map_to_the_taxonomy(rules_only, prompt, genre):
    # A genre name the taxonomy lacks filters nothing; these are names listeners use (no artists).
    assert genre in rules_only.parse(prompt).genres


def test_a_longer_genre_name_owns_its_words(rules_only):
    assert rules_only.parse("new jack swing").genres == ["r&b"]  # not also "swing" (jazz)


@pytest.mark.parametrize("prompt, genres", [
    ("songs for a cross country road trip", []), ("driving across the country", []),
    ("road trip around the country", []), ("classic country for a road trip", ["country"]),
    ("a cross country drive with some country music", ["country"]),
])
def test_a_trip_across_the_country_is_travel_not_the_genre(rules_only, prompt, genres):
    assert rules_only.parse(prompt).genres == genres


@pytest.mark.parametrize("prompt, moods", [
    ("I love these! Can you add some more", []), ("love it, more please", []), ("i love them", []),
    ("I would love to hear some jazz", []), ("love the selection so far", []),
    ("love songs", ["romantic"]), ("can i get a love playlist", ["romantic"]),
    ("a playlist for falling in love", ["romantic"]), ("I love love songs", ["romantic"]),
    ("romantic ballads", ["romantic"]),
])
def test_love_as_a_verb_is_praise_not_a_request_for_love_songs(rules_only, prompt, moods):
    assert rules_only.parse(prompt).moods == moods


def test_praise_sets_no_energy(rules_only):
    assert rules_only.parse("I love these! Can you add some more").energy is None


# --- names with punctuation, exclusions that refer back (issue 14, session 10) -------------------
def _named_parser():
    return FastParser(None, ["Dr. Dre", "AC/DC", "Tyler, The Creator", "Amy Winehouse", "Sade", "Nice!", "24/7",
                             "Snoop Dogg", "Earth, Wind & Fire", "Korn"], today=TODAY)


def test_an_excluded_name_is_excluded_whole_even_with_a_period_or_slash():
    p = _named_parser()
    i = p.parse("90s west coast rap but no Dr. Dre")
    # The phrase used to end at "Dr.", leaving "Dre" to be read as a wish for Dr. Dre.
    assert i.exclude_artists == ["Dr. Dre"] and i.include_artists == [] and i.exclude_terms == []
    assert "dre" not in i.search_text.lower()
    i = p.parse("heavy metal, no AC/DC")
    assert i.exclude_artists == ["AC/DC"] and i.include_artists == []
    assert p.parse("all good except Korn doesn't fit").exclude_artists == ["Korn"]


def test_names_with_punctuation_between_words_are_recognised_as_written_in_lower_case():
    p = _named_parser()
    assert p.parse("rappers like tyler the creator").similar_artists == ["Tyler, The Creator"]
    assert p.parse("some earth wind & fire please").include_artists == ["Earth, Wind & Fire"]
    # A one-word name is not every use of the word; nor is a name of digits.
    assert p.parse("nice songs for a sunday").include_artists == []
    i = p.parse("songs with 24/7 vibes")
    assert i.include_artists == [] and i.similar_artists == []


@pytest.mark.parametrize("prompt,who", [
    ("something with the Amy Winehouse vibe but not actually her", "Amy Winehouse"),
    ("songs like Sade but not her", "Sade"),
    ("rappers like Tyler, The Creator but not Tyler himself", "Tyler, The Creator"),
    ("Korn but not Korn, heavy and weird", "Korn"),  # no cue word: "X but not X" is music like X
    ("amy winehouse type soul but no amy winehouse", "Amy Winehouse"),  # "X type <anything>"
])
def test_a_pronoun_or_part_of_a_name_excludes_the_artist_named_before(prompt, who):
    i = _named_parser().parse(prompt)
    assert i.similar_artists == [who] and i.exclude_artists == [who] and i.exclude_terms == []


def test_an_exclusion_naming_no_one_stays_a_term():
    i = _named_parser().parse("like Sade but nothing too slow")
    assert i.exclude_artists == [] and i.exclude_terms == ["slow"]
    assert _named_parser().parse("chill songs but not her stuff").exclude_terms == ["her stuff"]


def test_words_for_performers_name_no_genre(parser):
    # Zero-shot tagging read "singers" as r&b / blues ("soul singers") and "bands" as rock.
    for prompt in ("singers like Eminem", "bands like Metallica", "artists similar to Daft Punk"):
        assert parser.parse(prompt).genres == [], prompt
    assert "hip hop" in parser.parse("rappers like Eminem").genres
    assert parser.parse("acoustic singer-songwriter tunes").genres == ["folk"]


def test_x_vibes_is_music_like_x():
    i = _named_parser().parse("Sade vibes for late at night")
    assert i.similar_artists == ["Sade"] and i.include_artists == []
    assert _named_parser().parse("summer vibes").similar_artists == []


@pytest.mark.parametrize("prompt,who", [
    ("artists similar to sade", "Sade"),  # one lower-case word, cued by "similar to"
    ("sade vibes", "Sade"),  # ...or by what follows it
    ("korn type beats", "Korn"),
    ("amy winehouse sound alikes", "Amy Winehouse"),
    ("Korn soundalikes please", "Korn"),
    ("korn type heavy stuff", "Korn"),
])
def test_similar_to_and_sound_alikes_ask_for_music_like_a_lower_case_name(prompt, who):
    i = _named_parser().parse(prompt)
    assert i.similar_artists == [who] and i.include_artists == []


def test_a_lower_case_common_word_is_still_no_artist_without_a_cue():
    assert _named_parser().parse("sade songs and nice tunes").similar_artists == []
    assert "Nice!" not in _named_parser().parse("something nice for the evening").include_artists


@pytest.mark.parametrize(
    "prompt, wanted, unwanted",
    [
        # A subgenre names every tag a listener accepts for it (serving/intent/subgenres.py).
        ("rockabilly with slap bass", {"rock", "country", "oldies"}, set()),
        ("2 step garage, shuffly beats", {"electronic", "house"}, set()),
        ("chiptune and 8 bit video game music", {"electronic", "soundtrack"}, set()),
        # The longer name owns its words: lovers rock is reggae, witch house is no house music.
        ("lovers rock for a cosy night in", {"reggae"}, {"rock"}),
        ("witch house", {"electronic"}, {"house"}),
        ("funk carioca pra dançar", {"latin"}, {"disco"}),
        # A tag keyword does not match inside a hyphenated word; the hyphenated names are listed.
        ("post-rock with long build ups", {"rock", "indie"}, set()),
        ("deutschrap bitte", {"hip hop"}, set()),
        # Genre names in other scripts; a script without spaces matches inside a word (session 13).
        ("中文说唱，要硬一点的", {"hip hop"}, set()),
        ("ボカロの神曲まとめ", {"electronic", "pop"}, set()),
        ("เพลงลูกทุ่งเพราะๆ", {"folk"}, set()),
        ("старая советская эстрада", {"pop"}, set()),
        ("русский рок", {"rock"}, set()),
        # Session 17's additions.
        ("psychobilly, horror and upright bass", {"punk", "rock"}, set()),
        ("nightcore remixes", {"electronic", "pop"}, set()),
        ("cajun fiddle tunes", {"country", "folk"}, set()),
        ("hi-nrg from the 80s", {"electronic", "disco"}, set()),
        ("powerviolence, short and fast", {"punk", "metal"}, set()),
        # Session 19's additions: names an earlier check against a list of common genre names missed.
        ("senegalese mbalax, lots of sabar drums", {"afrobeats"}, set()),
        ("cuban son cubano and timba", {"latin"}, set()),
        ("kuduro from luanda", {"afrobeats", "electronic"}, set()),
        ("bakersfield sound honky tonk", {"country"}, set()),
        ("vocaloid songs", {"electronic", "pop"}, set()),
        ("late 70s new york no wave", {"rock", "punk"}, set()),
    ],
)
def test_subgenre_names_map_to_their_tags(rules_only, prompt, wanted, unwanted):
    genres = set(rules_only.parse(prompt).genres)
    assert wanted <= genres and not unwanted & genres, genres


def test_every_subgenre_names_taxonomy_genres_and_no_tag_keyword_twice():
    from serving.intent.subgenres import SUBGENRES
    from serving.intent.taxonomy import TAXONOMY

    genres = {t.name for t in TAXONOMY if t.kind == "genre"}
    assert all(tags and set(tags) <= genres for tags in SUBGENRES.values())
    for t in TAXONOMY:
        assert len(t.keywords) == len(set(t.keywords)), t.name


def test_spaced_scripts_still_match_whole_words_only():
    from serving.intent.taxonomy import keyword_tags

    assert {t.name for t, _ in keyword_tags("русский рок")} == {"rock"}
    assert not keyword_tags("рокот")  # Cyrillic has spaces: a keyword inside a longer word is no keyword
    assert {t.name for t, _ in keyword_tags("好听的摇滚歌")} == {"rock"}  # Chinese has none


def test_an_exclusion_bans_whole_keywords_not_substrings(parser):
    # A prompt that is exactly the soundtrack tag's text: zero-shot picks soundtrack, unless excluded.
    # "no ghost stories" holds the letters of "ost" (a soundtrack keyword): only a whole keyword bans it.
    i = next(n for n, t in enumerate(parser._tags.tags) if t.name == "soundtrack")
    q = parser._tags.vectors[i]
    assert "soundtrack" in {t.name for t, _ in parser._zero_shot_tags(q, ["ghost stories"])}
    assert "soundtrack" not in {t.name for t, _ in parser._zero_shot_tags(q, ["movie osts"])}


def _named_like_parser():
    return FastParser(None, ["Nas", "Lil Nas X", "The Notorious B.I.G.", "John Coltrane", "Stevie Wonder",
                             "Bury Tomorrow", "Maverick City Music", "Elevation Worship", "System Of A Down",
                             "Parliament", "Rick James", "Drake", "Future", "Adele", "Korn"], today=TODAY)


@pytest.mark.parametrize("prompt,who", [
    ("songs like Lil Nas X", ["Lil Nas X"]),  # "Nas" inside the name is no second artist
    ("songs like The Notorious B.I.G.", ["The Notorious B.I.G."]),  # a name ending with a full stop
    ("heavy stuff in the same lane as Bury Tomorrow", ["Bury Tomorrow"]),
    ("bands in the same chaotic lane as system of a down", ["System Of A Down"]),
    ("songs by the likes of Korn", ["Korn"]),
    # Said after the name: music like it, not only by it.
    ("I love John Coltrane, what else would I like", ["John Coltrane"]),
    ("i love stevie wonder, give me more like that", ["Stevie Wonder"]),
    # Names listed with one asked about are asked about too.
    ("more like maverick city music and elevation worship", ["Maverick City Music", "Elevation Worship"]),
    ("more like parliament and rick james, that nasty bass heavy funk", ["Parliament", "Rick James"]),
    ("Drake or Future type beats", ["Future", "Drake"]),
])
def test_music_like_named_artists_however_it_is_phrased(prompt, who):
    i = _named_like_parser().parse(prompt)
    assert sorted(i.similar_artists) == sorted(who) and i.include_artists == [], (i.similar_artists, i.include_artists)
    assert "like" not in i.search_text.lower().split() and "lane" not in i.search_text.lower()


def test_names_beside_a_like_x_without_a_list_stay_wishes():
    p = _named_like_parser()
    i = p.parse("songs like Drake and some Adele")
    assert i.similar_artists == ["Drake"] and i.include_artists == ["Adele"]
    i = p.parse("play Drake and Adele")
    assert i.similar_artists == [] and i.include_artists == ["Drake", "Adele"]
    assert p.parse("Nas and Drake please").include_artists == ["Nas", "Drake"]
    # "more like that" with nobody named before it names no one.
    assert p.parse("rainy day jazz, more like that").similar_artists == []


def test_an_excluded_name_is_not_music_like_it_by_a_list_or_a_more_like_that():
    p = _named_like_parser()
    i = p.parse("Definitely no Korn! I'd prefer Drake, or Future, something like that")
    assert sorted(i.similar_artists) == ["Drake", "Future"] and i.exclude_artists == ["Korn"]


def test_chat_words_end_what_an_exclusion_names():
    # "lol", "tho", "pls" after the name had made the exclusion a term no track matches: the artist stayed in.
    p = FastParser(None, ["Nickelback", "Lizzo", "Sam Smith"], today=TODAY)
    assert p.parse("2000s post grunge radio rock (no nickelback lol)").exclude_artists == ["Nickelback"]
    i = p.parse("hot girl walk around the neighborhood, skip lizzo tho")
    assert i.exclude_artists == ["Lizzo"] and i.exclude_terms == [] and "tho" not in i.search_text.split()
    assert p.parse("crying in the shower, no sam smith pls").exclude_artists == ["Sam Smith"]


@pytest.mark.parametrize("prompt", ["lying in a hammock with absolutely nothing to do",
                                    "the instructions make no sense", "its not going well, keep me calm",
                                    "these are all good, no worries", "late 70s new york no wave"])
def test_english_phrases_starting_with_a_cue_word_exclude_nothing(rules_only, prompt):
    i = rules_only.parse(prompt)
    assert i.exclude_terms == [] and i.exclude_artists == []
    assert i.search_text.split()[-1] == prompt.split()[-1]  # the words stay in the search text


def test_a_cue_word_that_begins_an_artists_name_is_the_name():
    p = FastParser(None, ["No Doubt", "Sublime"], today=TODAY)
    i = p.parse("songs like No Doubt")
    assert i.similar_artists == ["No Doubt"] and i.exclude_terms == [] and i.exclude_artists == []
    assert p.parse("I like Sublime, No Doubt and Zero 7").exclude_terms == []
    assert p.parse("ska punk, but no No Doubt").exclude_artists == ["No Doubt"]


def test_no_wave_is_a_genre_name(rules_only):
    i = rules_only.parse("late 70s new york no wave, skronky and arty")
    assert {"rock", "punk"} <= set(i.genres) and i.exclude_terms == []
    assert rules_only.parse("no new wave please").exclude_terms == ["new wave"]  # a cue before a genre still excludes it


def _parts_parser():
    return FastParser(None, ["Nicki Minaj", "blink-182", "Stone Temple Pilots", "Rage Against The Machine",
                             "Justin Bieber", "Ed Sheeran & Justin Bieber", "Chris Brown", "Chris Stapleton",
                             "Panic! At The Disco", "Drake", "Memory"], today=TODAY)


@pytest.mark.parametrize("prompt,who", [
    ("90s rock like stone temple pilots but without STP themselves", "Stone Temple Pilots"),  # initials
    ("like rage against the machine but no RATM", "Rage Against The Machine"),
    ("pop punk like blink-182 minus blink", "blink-182"),  # a word of the name given before
])
def test_a_word_or_the_initials_of_a_named_artist_exclude_that_artist(prompt, who):
    i = _parts_parser().parse(prompt)
    assert i.similar_artists == [who] and i.exclude_artists == [who]


def test_part_of_one_catalog_artists_name_excludes_that_artist():
    p = _parts_parser()
    i = p.parse("female rappers, baddie anthems. no nicki tho")
    assert i.exclude_artists == ["Nicki Minaj"] and i.exclude_terms == ["nicki"]
    # Every credit that holds the whole name goes with it.
    assert p.parse("pop hits but no bieber").exclude_artists == ["Justin Bieber", "Ed Sheeran & Justin Bieber"]
    # A word two artists share names neither; a bare "not" negates a verb.
    assert p.parse("rap but no chris").exclude_artists == []
    assert p.parse("i need to not panic, something calm").exclude_artists == []


def test_in_the_x_lane_asks_for_music_like_x():
    p = _parts_parser()
    i = p.parse("pop punk in the blink-182 lane, dumb jokes and fast drums")
    assert i.similar_artists == ["blink-182"] and "lane" not in i.search_text
    assert p.parse("something in the Drake lane").similar_artists == ["Drake"]
    i = p.parse("a trip down memory lane")  # "memory" names nobody here
    assert i.similar_artists == [] and i.include_artists == []


@pytest.mark.parametrize("prompt,genres", [
    ("kids songs for a long car ride", ["children"]),
    ("educational songs for preschoolers", ["children"]),
    ("nursery rhymes for my baby", ["children"]),
    ("backyard pool party, kids and adults both there so keep it clean", []),  # kids around, not kids' music
    ("dub techno for working late", ["house", "electronic"]),  # not dub reggae
])
def test_genre_names_of_session_20(rules_only, prompt, genres):
    assert sorted(rules_only.parse(prompt).genres) == sorted(genres)
