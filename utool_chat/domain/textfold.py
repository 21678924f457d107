"""How search compares text: case and accent folding, with offsets back into the original.

Search matches *folded* text: the message and the query are both folded, so "CAFÉ", "cafe"
and "Café" are the same word, "Straße" matches "strasse", full-width "ＡＢＣ" matches "abc"
and "ǅ" matches "dž". Folding is defined one grapheme-ish cluster at a time (a base character
and the combining marks after it), which is what lets a match in the folded text be mapped
back onto the exact characters of the original for highlighting, however folding changed
lengths ("ß" → "ss", "ﬁ" → "fi", "é" written as e + U+0301 → "e").

Folding a cluster: casefold, NFKD, drop the marks that writers commonly leave out (Latin,
Greek and Cyrillic accents, Hebrew points, Arabic harakat, variation selectors), NFC again,
then a few letters Unicode does not decompose (ł, ø, đ, æ, …). Marks that change a letter
into another letter in its own script stay: Japanese dakuten (が is not か), Indic vowel
signs. No stemming and no stop words, so every language is searched the same way.

Whitespace and control characters fold to one space (runs collapse), so a "quoted phrase"
matches across line breaks. Offsets are UTF-16 code units, the unit of JavaScript strings
(an emoji outside the BMP counts 2), because that is where highlights are drawn; use
`utf16_slices` to cut a Python string with them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

# Marks dropped by folding: [start, end] code point ranges, inclusive.
_DROPPED_MARKS = (
    (0x0300, 0x036F),  # combining diacritical marks (Latin, Greek, Cyrillic, Vietnamese tones)
    (0x0483, 0x0489),  # Cyrillic combining marks
    (0x0591, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x05C4, 0x05C5), (0x05C7, 0x05C7),  # Hebrew points
    (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E4),  # Arabic
    (0x06E7, 0x06E8), (0x06EA, 0x06ED),
    (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F),  # more diacritics
    (0xFE00, 0xFE0F), (0xE0100, 0xE01EF),  # variation selectors (❤️ and ❤ are the same heart)
)
# Invisible characters that only affect rendering: dropped.
_INVISIBLE = frozenset("\u00ad\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff")
# Letters with a stroke or ligatures that NFKD leaves alone (after casefold, so lower case only).
_EXTRA_FOLDS = {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ŧ": "t", "ŀ": "l",
                "æ": "ae", "œ": "oe", "þ": "th"}

# Scripts written without spaces between words: a word boundary means nothing there, so a
# short query term matches anywhere instead of only at the start of a word.
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF),  # Hangul
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3021, 0x3029), (0x3038, 0x303B),  # CJK radicals, ideographic marks
    (0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F),  # Hiragana, Katakana
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF),  # Han
)



def _class(ranges: list[tuple[int, int]]) -> str:
    """A regex character class (without brackets) of inclusive code point ranges."""
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


def _fast_class(ranges: list[tuple[int, int]]) -> str:
    """The same as a group that `re` tests in constant time for characters of the BMP (it
    keeps a bitmap for a class of BMP characters only, and scans a list of ranges otherwise)."""
    bmp = [(lo, min(hi, 0xFFFF)) for lo, hi in ranges if lo <= 0xFFFF]
    astral = [(max(lo, 0x10000), hi) for lo, hi in ranges if hi > 0xFFFF]
    return f"(?:[{_class(bmp)}]|(?=[\\U00010000-\\U0010ffff])[{_class(astral)}])"


def _ranges_where(predicate: Callable[[str], bool], stop: int = 0x30000) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for cp in range(stop):
        if predicate(chr(cp)):
            if found and found[-1][1] == cp - 1:
                found[-1] = (found[-1][0], cp)
            else:
                found.append((cp, cp))
    return found


# Characters that continue the cluster of the one before them: combining marks (planes 0–2),
# the dropped marks, and Hangul medial and final jamo (they compose with the initial one).
_MARKS = _ranges_where(lambda ch: unicodedata.category(ch)[0] == "M")
_CONTINUING = _fast_class(_MARKS + list(_DROPPED_MARKS) + [(0x1160, 0x11FF), (0xD7B0, 0xD7FF)])
# A cluster: one whitespace character alone, or any character with what continues it.
_CLUSTER = re.compile(rf"\s|.{_CONTINUING}*", re.DOTALL)
# A word character: a letter, digit or mark (Indic vowel signs are marks) of a spaced script.
_WORD = rf"(?:[^\W_{_class(list(_UNSPACED))}]|(?![{_class(list(_UNSPACED))}])[{_class(_MARKS)}])"
_WORD_CHAR = re.compile(_WORD)
_WORD_START = re.compile(rf"(?<!{_WORD}){_WORD}.?", re.DOTALL)
_SPACE_RUN = re.compile(" {2,}")
_ASCII_SPACE_RUN = re.compile(r"[\x00-\x20\x7f]+")


def _is_ascii_space(ch: str) -> bool:
    return ch <= " " or ch == "\x7f"


def _in(ranges: tuple[tuple[int, int], ...], ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in ranges)


def is_unspaced(ch: str) -> bool:
    return _in(_UNSPACED, ch)


@lru_cache(maxsize=1 << 16)
def is_word_char(ch: str) -> bool:
    """A letter, digit or combining mark (Indic vowel signs are marks) of a script that
    separates words with spaces or punctuation."""
    return _WORD_CHAR.fullmatch(ch) is not None


def _is_space_or_control(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Cc"


@lru_cache(maxsize=1 << 16)
def fold_cluster(cluster: str) -> str:
    """The folded form of one cluster ("" when it folds away entirely); whitespace and
    control characters become spaces."""
    if _is_space_or_control(cluster[0]):
        return " "
    s = unicodedata.normalize("NFKD", cluster.casefold())
    s = "".join(ch for ch in s if not _in(_DROPPED_MARKS, ch) and ch not in _INVISIBLE)
    s = unicodedata.normalize("NFC", s).casefold()
    return "".join(" " if _is_space_or_control(ch) else _EXTRA_FOLDS.get(ch, ch) for ch in s)


def fold(text: str) -> str:
    """`text` folded for comparison: each cluster folded, runs of spaces made one, trimmed.
    The same as fold_with_offsets(text)[0], only faster."""
    if text.isascii():
        return _ASCII_SPACE_RUN.sub(" ", text.lower()).strip(" ")
    return _SPACE_RUN.sub(" ", "".join(map(fold_cluster, _CLUSTER.findall(text)))).strip(" ")


def fold_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """(folded, starts, ends): folded[i] came from the original's UTF-16 range
    [starts[i], ends[i]) — the whole cluster it was folded from."""
    if text.isascii():
        return _ascii_fold_with_offsets(text)
    return _general_fold_with_offsets(text)


def _ascii_fold_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """The same for ASCII text, where every character is a cluster and one UTF-16 unit."""
    folded = fold(text)  # `text` lower-cased, whitespace runs collapsed to one space, trimmed
    starts: list[int] = []
    pos = 0
    for ch in folded:
        while not (text[pos].lower() == ch or (ch == " " and _is_ascii_space(text[pos]))):
            pos += 1  # only leading whitespace is skipped here
        starts.append(pos)
        pos += 1
        if ch == " ":
            while pos < len(text) and _is_ascii_space(text[pos]):
                pos += 1
    return folded, starts, [start + 1 for start in starts]


def _general_fold_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    utf16 = 0
    for cluster in _CLUSTER.findall(text):
        width = len(cluster) + sum(1 for ch in cluster if ord(ch) > 0xFFFF)
        for ch in fold_cluster(cluster):
            if ch == " " and (not out or out[-1] == " "):
                continue  # runs of spaces are one; none at the start
            out.append(ch)
            starts.append(utf16)
            ends.append(utf16 + width)
        utf16 += width
    if out and out[-1] == " ":
        out.pop()
        starts.pop()
        ends.pop()
    return "".join(out), starts, ends


def word_start_keys(folded: str) -> list[str]:
    """The 1–2 character beginnings of the words of folded text, each once, in order of first
    appearance: what a short query term ("de", "a") has to equal the start of. A word starts
    at a letter, digit or mark of a spaced script not preceded by one."""
    return list(dict.fromkeys(m.group().rstrip(" ") for m in _WORD_START.finditer(folded)))


def is_word_start(folded: str, i: int) -> bool:
    return is_word_char(folded[i]) and (i == 0 or not is_word_char(folded[i - 1]))


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf16_slices(text: str, ranges: list[list[int]]) -> list[tuple[str, bool]]:
    """Cut `text` into (piece, highlighted) segments by sorted, non-overlapping UTF-16
    ranges — what a Python UI (the Reflex door) needs to render search highlights."""
    # UTF-16 offset -> code point index.
    index_of: dict[int, int] = {}
    utf16 = 0
    for i, ch in enumerate(text):
        index_of[utf16] = i
        utf16 += 2 if ord(ch) > 0xFFFF else 1
    index_of[utf16] = len(text)
    segments: list[tuple[str, bool]] = []
    pos = 0
    for start, end in ranges:
        lo, hi = index_of.get(start), index_of.get(end)
        if lo is None or hi is None or lo < pos or hi <= lo:
            continue  # not ranges of this text: show it plain rather than cut a character in two
        if lo > pos:
            segments.append((text[pos:lo], False))
        segments.append((text[lo:hi], True))
        pos = hi
    if pos < len(text) or not segments:
        segments.append((text[pos:], False))
    return segments
