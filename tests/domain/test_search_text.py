"""Search's text rules without a database: folding, the stored search text, the query
language and highlight ranges in UTF-16 code units of the original text."""

from __future__ import annotations

import random
import unicodedata
from datetime import UTC, datetime

import pytest

from utool_chat.domain import search, textfold
from utool_chat.domain.errors import ValidationFailed
from utool_chat.domain.search import FIELD_SEP, KEYS_MARK, Term, highlight_ranges, parse_query


@pytest.mark.parametrize(("original", "folded"), [
    ("Café", "cafe"),
    ("Cafe\u0301", "cafe"),  # decomposed accent
    ("Straße", "strasse"),
    ("ＡＢＣ１２３", "abc123"),  # full-width
    ("ﬁnd", "find"),  # ligature
    ("İstanbul", "istanbul"),
    ("Łódź Ærø", "lodz aero"),
    ("Nguyễn", "nguyen"),
    ("ΣΟΦΟΣ σοφος", "σοφοσ σοφοσ"),  # final sigma
    ("עִבְרִית", "עברית"),  # Hebrew points
    ("مُحَمَّد", "محمد"),  # Arabic harakat
    ("❤️", "❤"),  # variation selector
    ("が", "が"),  # dakuten changes the letter: kept
    ("हिन्दी", "हिन्दी"),  # Devanagari vowel signs: kept
    ("東京タワー", "東京タワー"),
    ("  line one\n\n\tline\u00a0two  ", "line one line two"),
    ("soft\u00adhyphen", "softhyphen"),
    ("a\x00b\x1fc", "a b c"),
])
def test_folding(original, folded):
    assert textfold.fold(original) == folded
    assert textfold.fold_with_offsets(original)[0] == folded


def test_the_ascii_fast_paths_fold_exactly_like_the_general_one():
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(128)] + list("  \n\tab")
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        general = textfold._general_fold_with_offsets(text)
        assert textfold.fold(text) == general[0], repr(text)
        assert textfold.fold_with_offsets(text) == general, repr(text)


def test_word_characters_are_letters_digits_and_marks_of_spaced_scripts():
    for cp in range(0x30000):
        ch = chr(cp)
        expected = (ch.isalnum() or unicodedata.category(ch)[0] == "M") and not textfold.is_unspaced(ch)
        assert textfold.is_word_char(ch) == expected, hex(cp)


SAMPLE = "ab Z9_.%-\t\u00e9e\u0301\u093f\u0939\u6771\u30bf\ud55c\u1100\u1161\u00df\ufb01\u00a0\u00ad\U0001f389"


def random_texts(seed: int, count: int, alphabet: str = SAMPLE):
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))


def test_fast_paths_give_exactly_the_general_results():
    for text in random_texts(5, 3000):
        folded = textfold.fold(text)
        assert folded == textfold._general_fold_with_offsets(text)[0], repr(text)
        assert textfold.fold_with_offsets(text)[0] == folded
        reference = list(dict.fromkeys(folded[i:i + 2].rstrip(" ") for i in range(len(folded))
                                       if textfold.is_word_start(folded, i)))
        assert textfold.word_start_keys(folded) == reference, repr(folded)


def test_offsets_cover_the_text_in_order():
    for text in random_texts(9, 2000):
        folded, starts, ends = textfold.fold_with_offsets(text)
        assert len(folded) == len(starts) == len(ends)
        assert all(0 <= a < b <= textfold.utf16_len(text) for a, b in zip(starts, ends, strict=True))
        assert starts == sorted(starts)


def test_hangul_written_as_jamo_folds_like_the_syllable():
    assert textfold.fold("\u1112\u1161\u11ab") == textfold.fold("\ud55c") == "\ud55c"


def test_folding_is_idempotent_on_a_sample_of_unicode():
    rng = random.Random(11)
    pool = [chr(c) for c in range(0x20, 0x3000) if unicodedata.category(chr(c)) not in ("Cs", "Co", "Cn")]
    for _ in range(500):
        folded = textfold.fold("".join(rng.choice(pool) for _ in range(12)))
        assert textfold.fold(folded) == folded, repr(folded)


def test_offsets_point_at_whole_clusters_in_utf16_units():
    folded, starts, ends = textfold.fold_with_offsets("🎉 Straße")
    assert folded == "🎉 strasse"
    # 🎉 is two UTF-16 units; both "s" of "ß" come from original [7, 8).
    assert (starts[0], ends[0]) == (0, 2)
    assert [(starts[i], ends[i]) for i in (6, 7)] == [(7, 8), (7, 8)]


def test_search_text_layout():
    text = search.search_text("Deploy the app", ["Quarterly Report.PDF", None, ""])
    assert text == (f"deploy the app{FIELD_SEP}quarterly report.pdf{KEYS_MARK}"
                    f"{FIELD_SEP}de{FIELD_SEP}th{FIELD_SEP}ap{FIELD_SEP}qu{FIELD_SEP}re{FIELD_SEP}pd")
    assert search.search_text("", []) == ""
    assert search.search_text("", ["a.png"]).startswith(f"{FIELD_SEP}a.png{KEYS_MARK}")


def test_word_starts():
    assert textfold.word_start_keys("deploy (beta) v2.0 a 東京 x%") == ["de", "be", "v2", "0", "a", "x%"]


# --- the query language -----------------------------------------------------------------------


def terms(raw: str) -> list[tuple[str, bool]]:
    return [(t.text, t.anywhere) for t in parse_query(raw).terms]


def test_words_phrases_and_literal_quotes():
    assert terms('Deploy "the  App" de') == [("deploy", True), ("the app", True), ("de", False)]
    assert terms('say"hi "unclosed it\'s') == [('say"hi', True), ('"unclosed', True), ("it's", True)]
    assert terms('%  _ \\ 東 .*') == [("%", True), ("_", True), ("\\", True), ("東", True), (".*", True)]
    assert terms('"from:ann" foo:bar from:') == [("from:ann", True), ("foo:bar", True), ("from:", True)]
    assert terms("deploy DEPLOY Déploy") == [("deploy", True)]


def test_operators():
    q = parse_query('from:@Ann from:bob in:"Project X" in:general has:IMAGE has:link '
                    "after:2026-01-01 before:2026-03-01 on:2026-02-10 rest")
    assert q.senders == ["ann", "bob"] and q.places == ["Project X", "general"]
    assert q.has == {"image", "link"} and [t.text for t in q.terms] == ["rest"]
    assert q.since == datetime(2026, 2, 10, tzinfo=UTC)  # on: is tighter than after:
    assert q.until == datetime(2026, 2, 11, tzinfo=UTC)
    assert parse_query("after:2026-01-01").since == datetime(2026, 1, 2, tzinfo=UTC)  # the day excluded
    assert parse_query("before:2026-01-01").until == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_query("FROM:Ann").senders == ["ann"]


@pytest.mark.parametrize(("raw", "code"), [
    ("", "empty_query"), ("   ", "empty_query"), ('""', "empty_query"), ("\u00ad", "empty_query"),
    ("x" * 501, "query_too_long"), ("a\x00b", "invalid_query"), ("\ud800", "invalid_query"),
    ("has:video", "invalid_query"), ("before:yesterday", "invalid_query"), ("after:2026-02-30", "invalid_query"),
    ("on:2026-1-1", "invalid_query"), (" ".join(f"w{i}" for i in range(21)), "too_many_terms"),
])
def test_bad_queries_are_400(raw, code):
    with pytest.raises(ValidationFailed) as err:
        parse_query(raw)
    assert err.value.status == 400 and err.value.code == code


def test_a_500_character_query_is_fine_and_non_strings_are_refused():
    assert parse_query("x" * 500).terms == [Term("x" * 500, True)]
    with pytest.raises(ValidationFailed):
        parse_query(["deploy"])


# --- highlights -----------------------------------------------------------------------------------


def hl(text: str, raw: str) -> list[list[int]]:
    return highlight_ranges(text, parse_query(raw).terms)


def test_highlights_map_back_onto_the_original():
    assert hl("Café crème", "cafe creme") == [[0, 4], [5, 10]]
    assert hl("Cafe\u0301!", "café") == [[0, 5]]  # the combining accent is part of the match
    assert hl("Die Straße", "strasse") == [[4, 10]]
    assert hl("Die Straße", "sse") == [[8, 10]]  # "ß" is highlighted whole
    assert hl("🎉🎉 party", "party") == [[5, 10]]  # astral characters count 2
    assert hl("ﬁnd it", "fin") == [[0, 2]]
    assert hl("東京タワーに行きました", "タワー 東") == [[0, 1], [2, 5]]


def test_highlights_follow_the_matching_rules():
    assert hl("ideas deploy", "de") == [[6, 8]]  # short: only at a word start
    assert hl("ideas deploy", "dea") == [[1, 4]]  # 3+: anywhere
    assert hl("aaaa", "aaa") == [[0, 4]]  # overlapping occurrences merge
    assert hl("deploy the app", '"the app" deploy') == [[0, 6], [7, 14]]
    assert hl("100% sure, 50%", "%") == [[3, 4], [13, 14]]
    assert hl("nothing here", "from:ann") == []


def test_segments_for_a_python_ui():
    text = "🎉 Party at the Café"
    segments = search.highlight_segments(text, hl(text, "party cafe"))
    assert segments == [("🎉 ", False), ("Party", True), (" at the ", False), ("Café", True)]
    assert "".join(s for s, _ in segments) == text
    assert search.highlight_segments("abc", []) == [("abc", False)]
    assert search.highlight_segments("🎉", [[1, 2]]) == [("🎉", False)]  # never cuts a character in two
