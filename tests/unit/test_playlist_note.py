from serving.intent.model import Intent
from serving.playlist_note import shortfall_note


def test_a_full_playlist_has_no_note():
    assert shortfall_note(Intent(search_text="jazz"), 20, 20) is None
    assert shortfall_note(Intent(search_text="jazz", similar_artists=["Miles Davis"]), 20, 25) is None


def test_a_short_like_x_playlist_says_what_it_holds_and_what_to_ask():
    note = shortfall_note(Intent(search_text="songs like Albert King", similar_artists=["Albert King"]), 20, 5)
    assert note.startswith("5 of 20 tracks: ")
    assert "tracks by Albert King (a few) and by artists known to be like Albert King" in note
    assert "Name a genre or more artists" in note


def test_like_x_but_not_x_does_not_promise_x():
    intent = Intent(search_text="like Gotye but not Gotye", similar_artists=["Gotye"], exclude_artists=["Gotye"])
    note = shortfall_note(intent, 20, 0)
    assert note.startswith("No tracks: ")
    assert "Gotye (a few)" not in note and "known to be like Gotye" in note


def test_any_other_short_playlist_says_nothing_more_fits():
    note = shortfall_note(Intent(search_text="psychobilly"), 20, 12)
    assert note.startswith("12 of 20 tracks: no more tracks in the catalog fit this request")
