"""serving.tools.genre_calibration: the pure counting (the tool reads the hand table; the product never does)."""


def test_genre_calibration_counts_each_known_claim_by_its_share():
    from serving.catalog.enrichment.artifact import ArtistAttrs
    from serving.tools.genre_calibration import calibration, claims

    heard = {"direct_genre_votes": 2}
    artists = {
        "a": ArtistAttrs("A", {"metal": 0.8, "pop": 0.2}, 5.0, evidence=heard),
        "b": ArtistAttrs("B", {"house": 0.6, "jazz": 0.1}, 5.0, evidence=heard),  # jazz: below MIN_SHARE
        "c": ArtistAttrs("C", {"rock": 0.9}, 0.1, evidence=heard),  # not known: no claim
        "d": ArtistAttrs("D", {"pop": 0.4}, 2.0),  # its neighbours' genres only
    }
    truth = {"a": frozenset({"metal", "rock"}), "b": frozenset({"electronic"}), "c": frozenset({"pop"}),
             "d": frozenset({"pop"}), "e": frozenset({"jazz"})}
    rows = claims(artists, truth, known=0.3, min_share=0.15)
    assert sorted(rows) == [(0.2, True, False), (0.4, False, True), (0.6, True, True), (0.8, True, True)]
    out = {r["claims"]: (r["n"], r["hold"]) for r in calibration(rows)}
    assert out["share 0.15-0.30"] == (1, 0.0)
    assert out["share 0.50-0.70"] == (1, 1.0)  # house is an electronic family
    assert out["share 0.30-0.50"] == (0, None)  # D's claim is not a listeners' one
    assert out["all, artists listeners spoke of"] == (3, 0.667)
    assert out["all, artists known through text neighbours only"] == (1, 1.0)
