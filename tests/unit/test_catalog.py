import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.catalog.loader import CatalogError, load_catalog


def test_shipped_catalog_is_the_full_cpcd_catalog():
    cat = load_catalog()
    assert len(cat) == 15437
    assert all(t.track_id and t.title and t.artists for t in cat.tracks)
    assert cat.version.startswith("catalog-")


def _write(tmp_path, lines):
    p = tmp_path / "cat.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_user_jsonl_with_optional_fields(tmp_path):
    p = _write(tmp_path, [
        json.dumps({"track_id": "a", "title": "One", "artists": ["X"], "year": 1984, "tags": ["synthpop"],
                    "features": {"energy": 0.8}}),
        json.dumps({"track_id": "b", "title": "Two", "artists": "Y"}),
    ])
    cat = load_catalog(p)
    assert [t.track_id for t in cat.tracks] == ["a", "b"]
    assert cat.tracks[0].year == 1984 and cat.tracks[0].features == {"energy": 0.8}
    assert cat.tracks[1].artists == ["Y"]


@pytest.mark.parametrize(
    "lines, expected",
    [
        (['{"track_id": "a", "title": "T", "artists": ["X"]}', "{not json"], "line 2: not valid JSON"),
        (['{"track_id": "a", "artists": ["X"]}'], "line 1: required field 'title'"),
        (['{"track_id": "a", "title": "T", "artists": []}'], "line 1: required field 'artists'"),
        (['{"track_id": "a", "title": "T", "artists": ["X"], "year": "old"}'], "line 1: field 'year'"),
        (['{"track_id": "a", "title": "T", "artists": ["X"]}', '{"track_id": "a", "title": "U", "artists": ["Y"]}'],
         "line 2: duplicate track_id 'a'"),
        (["[1, 2]"], "line 1: expected a JSON object"),
    ],
)
def test_malformed_jsonl_names_line_and_field(tmp_path, lines, expected):
    with pytest.raises(CatalogError, match=expected.replace("(", r"\(").replace("[", r"\[")):
        load_catalog(_write(tmp_path, lines))


def test_parquet_catalog_and_bad_row(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"track_id": ["a", "b"], "title": ["One", "Two"], "artists": [["X"], ["Y", "Z"]]}), good)
    assert [t.artists for t in load_catalog(good).tracks] == [["X"], ["Y", "Z"]]
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"track_id": ["a", "b"], "title": ["One", None], "artists": [["X"], ["Y"]]}), bad)
    with pytest.raises(CatalogError, match="row 1: required field 'title'"):
        load_catalog(bad)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "nope.jsonl")
    p = tmp_path / "cat.csv"
    p.write_text("track_id,title\n")
    with pytest.raises(CatalogError, match="unsupported extension '.csv'"):
        load_catalog(p)


def test_fingerprint_changes_with_content(tmp_path):
    a = load_catalog(_write(tmp_path, ['{"track_id": "a", "title": "T", "artists": ["X"]}']))
    b = load_catalog(_write(tmp_path, ['{"track_id": "a", "title": "T2", "artists": ["X"]}']))
    assert a.fingerprint != b.fingerprint
