"""The Markdown subset, links, mentions and the plain-text snippet (domain/formatting.py):
what every client renders, including what hostile input turns into."""

from __future__ import annotations

import random
import re
import time

import pytest

from utool_chat.domain import formatting
from utool_chat.domain.formatting import Mentionable, render

BOB, ANN = "b" * 32, "a" * 32
MEMBERS = Mentionable({BOB: ("bob", "Bob Smith"), ANN: ("ann.lee", "Ann <Lee>")}, everyone=True)
REL = 'target="_blank" rel="noopener noreferrer nofollow"'


def html(content: str, who: Mentionable = formatting.NOBODY) -> str:
    return render(content, who).html


@pytest.mark.parametrize(("content", "expected"), [
    ("**bold** __bold__", "<p><strong>bold</strong> <strong>bold</strong></p>\n"),
    ("*it* _it_", "<p><em>it</em> <em>it</em></p>\n"),
    ("~~gone~~", "<p><s>gone</s></p>\n"),
    ("`a < b`", "<p><code>a &lt; b</code></p>\n"),
    ("```\nfor x in y:\n    <b>\n```", "<pre><code>for x in y:\n    &lt;b&gt;\n</code></pre>\n"),
    ("> quoted\n> > twice", "<blockquote>\n<p>quoted</p>\n<blockquote>\n<p>twice</p>\n</blockquote>\n</blockquote>\n"),
    ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"),
    ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>\n'),
    ("line one\nline two", "<p>line one<br>\nline two</p>\n"),
])
def test_the_subset(content: str, expected: str) -> None:
    assert html(content) == expected


@pytest.mark.parametrize("content", ["# not a heading", "---", "| a | b |\n|---|---|", "    indented", "![x](https://a.b/i.png)"])
def test_what_is_not_in_the_subset_stays_text(content: str) -> None:
    out = html(content)
    assert not re.search(r"<(h\d|hr|table|img|pre)", out), out


def test_links_open_in_a_new_tab_and_carry_no_referrer() -> None:
    assert html("see https://example.com/a?b=1&c=2") == (
        f'<p>see <a href="https://example.com/a?b=1&amp;c=2" {REL}>https://example.com/a?b=1&amp;c=2</a></p>\n')
    assert html("[docs](https://docs.example/x)") == f'<p><a href="https://docs.example/x" {REL}>docs</a></p>\n'
    assert html("www.example.org") == f'<p><a href="http://www.example.org" {REL}>www.example.org</a></p>\n'
    assert html("mail ann@example.com") == f'<p>mail <a href="mailto:ann@example.com" {REL}>ann@example.com</a></p>\n'
    assert html("<https://x.example>") == f'<p><a href="https://x.example" {REL}>https://x.example</a></p>\n'


@pytest.mark.parametrize("content", [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;avascript&#58;alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "[click](file:///etc/passwd)",
    "[click](/relative/path)",
    "[click](//evil.example/x)",
    "<javascript:alert(1)>",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
])
def test_only_http_https_and_mailto_become_links(content: str) -> None:
    out = html(content)
    assert "<a " not in out and "href" not in out, out


@pytest.mark.parametrize("content", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "**<script>**alert(1)",
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    '<svg onload=alert(1)>',
    "<@" + "x" * 64 + "><script>",
])
def test_html_is_never_rendered_whatever_the_disguise(content: str) -> None:
    out = html(content, MEMBERS)
    tags = set(re.findall(r"<\s*([a-zA-Z0-9]+)", out))
    assert tags <= {"p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span"}, out
    assert "onerror" not in out.replace("onerror=alert", "") or "&lt;" in out
    assert not re.search(r"<(script|img|iframe|svg)", out, re.I), out
    assert not re.search(r"\son\w+=", re.sub(r"&[^;]+;", "", re.sub(r">[^<]*<", "><", out))), out


def test_the_sanitiser_also_stands_on_its_own() -> None:
    dirty = ('<p onclick="x()"><script>alert(1)</script><a href="javascript:alert(1)">j</a>'
             '<a href="https://ok.example" target="_self">ok</a><img src=x>'
             '<span class="evil" data-user-id="u">m</span></p>')
    clean = formatting.sanitise(dirty)
    assert "script" not in clean.replace("&lt;script", "") and "onclick" not in clean and "<img" not in clean
    assert 'href="javascript' not in clean and 'class="evil"' not in clean
    reordered = clean.replace('rel="noopener noreferrer nofollow" target="_blank"', REL)
    assert f'<a href="https://ok.example" {REL}>ok</a>' in reordered


def test_nested_quotes_1000_deep_are_shown_as_text_and_bounded() -> None:
    content = "> " * 1000 + "the deep end"
    out = render(content)
    assert out.html.count("<blockquote>") <= formatting.MAX_NESTING
    assert "the deep end" in out.html and "the deep end" in out.snippet


def test_deep_but_reasonable_nesting_still_renders() -> None:
    out = html("> " * 5 + "five deep")
    assert out.count("<blockquote>") == 5 and "five deep" in out


@pytest.mark.parametrize("content", [
    "[" * 4000, "*a" * 2000, "**" * 2000, "`" * 4000, "<" * 4000, "> " * 2000, "- " * 2000,
    "*_~`[" * 800, "[a](http://x.com) " * 222, "http://a.com " * 307, "a.com" * 800, "&#1;" * 1000,
    "".join("  " * i + "- x\n" for i in range(200))[:4000], "<@" + "a" * 3998, "@" * 4000, "@bob " * 800,
])
def test_hostile_markdown_of_the_longest_message_renders_in_bounded_time(content: str) -> None:
    # A guard against quadratic blow-ups, not a speed target (bench/markdown.py measures):
    # the worst of these takes tens of milliseconds.
    started = time.perf_counter()
    out = render(content[:4000], MEMBERS)
    assert time.perf_counter() - started < 2.0
    assert len(out.snippet) <= formatting.SNIPPET_CHARS


def test_input_beyond_any_message_is_plain_text() -> None:
    out = render("**x** " * 5000)
    assert out.html.startswith("<p>**x**") and "<strong>" not in out.html


# --- mentions --------------------------------------------------------------------------------


def test_mentions_by_id_and_by_username_show_the_display_name() -> None:
    out = render(f"hi <@{BOB}> and @ann.lee.", MEMBERS)
    assert out.mentions == [BOB, ANN] and not out.mentions_everyone
    assert (f'<span class="mention" data-user-id="{BOB}">@Bob Smith</span>' in out.html
            and f'<span class="mention" data-user-id="{ANN}">@Ann &lt;Lee&gt;</span>.' in out.html)
    assert out.snippet == "hi @Bob Smith and @Ann <Lee>."


def test_who_may_not_be_mentioned_stays_plain_text() -> None:
    stranger = "c" * 32
    out = render(f"<@{stranger}> @nobody @everyone mail bob@example.com", Mentionable(MEMBERS.users, everyone=False))
    assert out.mentions == [] and not out.mentions_everyone
    assert f"&lt;@{stranger}&gt;" in out.html and "@nobody" in out.html and "mention" not in out.html


def test_everyone_when_allowed() -> None:
    out = render("@everyone standup!", MEMBERS)
    assert out.mentions_everyone and '<span class="mention mention-everyone">@everyone</span>' in out.html


def test_mentions_inside_code_are_not_mentions() -> None:
    out = render(f"`<@{BOB}>` and\n```\n@bob\n```", MEMBERS)
    assert out.mentions == [] and "mention" not in out.html


def test_a_repeated_mention_counts_once() -> None:
    assert render(f"<@{BOB}> @bob <@{BOB}>", MEMBERS).mentions == [BOB]


def test_mentions_user_reads_a_served_message() -> None:
    message = {"sender": {"_id": ANN}, "mentions": [BOB], "mentionsEveryone": False, "isDeleted": False}
    assert formatting.mentions_user(message, BOB) and not formatting.mentions_user(message, "c" * 32)
    assert formatting.mentions_user({**message, "mentions": [], "mentionsEveryone": True}, BOB)
    assert not formatting.mentions_user({**message, "mentionsEveryone": True}, ANN)  # not one's own
    assert not formatting.mentions_user({**message, "isDeleted": True}, BOB)


def test_snippet_is_one_line_and_cut_with_an_ellipsis() -> None:
    out = render("**Title**\n\n- a\n- b\n\n" + "word " * 100)
    assert out.snippet.startswith("Title a b word") and len(out.snippet) == 200 and out.snippet.endswith("…")
    assert "\n" not in out.snippet


# --- the plain-line shortcut (formatting._is_plain_line) --------------------------------------

_PIECES = ["a", "Z", "é", "ß", "☕", "😀", "7", "42", "2024", " ", "  ", "\t", ".", ",", ":", ";", "/", "//", "?",
           "!", "'", '"', "(", ")", "#", "=", "|", "$", "%", "^", "{", "}", "-", "+", "*", "_", "~", "`", "[", "]",
           "<", ">", "&", "\\", "@", "\n", "\r", "\xa0", "\x85", "\x7f", "\x00", "\u2003", "\u2028", "\ufeff",
           "www", "http", "mailto", "example", ".com", ".io", ".de", "1.", "2)", "x.y", "localhost", "::1",
           "192.168.0.1", "hello", "there", "load"]


def _full_render(content: str, monkeypatch: pytest.MonkeyPatch) -> formatting.Rendered:
    with monkeypatch.context() as patched:
        patched.setattr(formatting, "_is_plain_line", lambda _content: False)
        return render(content)


def test_the_plain_line_shortcut_answers_what_the_parser_and_sanitiser_answer(monkeypatch) -> None:
    rng = random.Random(14)
    shortcut = 0
    for _ in range(4000):
        content = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 12)))
        if formatting._is_plain_line(content):
            shortcut += 1
            assert render(content) == _full_render(content, monkeypatch), repr(content)
    assert shortcut > 300, "the random lines hardly ever took the shortcut: the comparison proves little"


@pytest.mark.parametrize("content", ["load 5", "Hello there.", 'say "hi", it\'s 10:30 (ok?)', "café ☕ 😀",
                                     "padded  ", "2 people = 100% #fun | {x} ^ $"])
def test_ordinary_lines_take_the_shortcut(content: str, monkeypatch) -> None:
    assert formatting._is_plain_line(content)
    assert render(content) == _full_render(content, monkeypatch)


@pytest.mark.parametrize("content", ["see example.com", "https://x.io", "www.x", "- item", "+ item", "1. item",
                                     "3) item", "> quote", "**b**", "a_b_", "`c`", "~~s~~", "[l](u)", "a & b",
                                     "a < b", "two\nlines", "a\xa0b", "\tindented", "x\\y", "mail@x.de"])
def test_anything_markdown_or_linkify_might_act_on_takes_the_parser(content: str) -> None:
    assert not formatting._is_plain_line(content)
