"""Message formatting: the one Markdown renderer every client shares, and mentions.

A message's `content` is stored exactly as its sender typed it. What clients render is
derived from it once, when the message is stored or edited (messages.py keeps the results on
the row, so reading history costs no rendering), by `render`:

- `html` (served as `contentHtml`): sanitised HTML of a small Markdown subset, the same for
  every client and every door;
- `snippet`: plain text of at most SNIPPET_CHARS characters (conversation-list previews,
  notifications, reply quotes): Markdown removed, mentions as "@Name", whitespace collapsed;
- `mentions`: the ids of the members the message mentions, and `mentions_everyone`.

The subset (CommonMark syntax, markdown-it-py, configured here and nowhere else):

    **bold** / __bold__   *italic* / _italic_   ~~strikethrough~~   `inline code`
    ```fenced code blocks```   > block quotes   - / * / + / 1. lists
    bare URLs, www.… and e-mail addresses, <https://…>, [text](url)
    a single line break is a line break (as in every chat)

Nothing else: no headings, tables, images, horizontal rules, indented code blocks or raw HTML
(typed HTML shows as the text it is). Links only for http, https and mailto — a `javascript:`,
`data:`, `vbscript:` or relative destination leaves the text as typed — and every link opens
in a new tab with rel="noopener noreferrer nofollow". The renderer's output passes through a
whitelist sanitiser (nh3) as a second line of defence.

Hostile input is bounded: the parser is linear in the input (a 4,000-character worst case
takes tens of milliseconds, see bench/markdown.py), nesting is capped at MAX_NESTING, and a
message nested deeper than that (1,000 quotes deep) is shown as plain text rather than losing
the part beyond the cap. Input beyond MAX_RENDER_CHARS is shown as plain text too.

Mentions (who may be mentioned is the caller's `Mentionable`, the conversation's active
members when the message is stored):

    <@userId>      the rename-proof form clients insert (the composer's autocomplete); shown
                   as "@" + the member's display name
    @username      typed by hand: the member with that username (usernames never change)
    @everyone      every member, in groups and project conversations, from admins only

A mention of anyone else (a non-member, an unknown id, @everyone from a non-admin or in a
direct chat) stays the plain text it was. Mentions inside code are not mentions.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

MAX_NESTING = 20  # block and inline containers; deeper input is shown as plain text
MAX_RENDER_CHARS = 20_000  # messages are at most 4,000; anything longer is not ours to format
SNIPPET_CHARS = 200
LINK_SCHEMES = ("http://", "https://", "mailto:")
LINK_REL = "noopener noreferrer nofollow"
EVERYONE = "everyone"

_ID_MENTION = re.compile(r"<@([A-Za-z0-9_-]{1,64})>")
_NAME_MENTION = re.compile(r"@([A-Za-z0-9_.-]{3,32})")
# A typed @mention starts a word: "bob@example.com" is an e-mail address, not a mention.
_WORD_BEFORE = re.compile(r"[A-Za-z0-9_.@-]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Mentionable:
    """Who a message may mention: `users` {userId: (username, displayName)} (the
    conversation's active members) and whether `@everyone` is allowed (an admin of a group)."""

    users: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    everyone: bool = False

    def by_username(self) -> dict[str, str]:
        return {username.lower(): uid for uid, (username, _name) in self.users.items()}


NOBODY = Mentionable()


@dataclass(frozen=True)
class Rendered:
    html: str
    snippet: str
    mentions: list[str]  # mentioned member ids, in order of first mention
    mentions_everyone: bool


# --- the parser ------------------------------------------------------------------------


def _mention_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: `<@id>`, `@username` or `@everyone` naming someone in env["mentionable"]
    becomes a `mention` token; anything else is left to the other rules (plain text)."""
    src, pos = state.src, state.pos
    mentionable: Mentionable = state.env.get("mentionable", NOBODY)
    char = src[pos]
    user_id: str | None = None
    length = 0
    if char == "<":
        match = _ID_MENTION.match(src, pos)
        if match is None or match.group(1) not in mentionable.users:
            return False
        user_id, length = match.group(1), match.end() - pos
    elif char == "@":
        if pos > 0 and _WORD_BEFORE.match(src[pos - 1]):
            return False
        match = _NAME_MENTION.match(src, pos)
        if match is None:
            return False
        name = match.group(1)
        by_username = state.env.setdefault("by_username", mentionable.by_username())
        # "thanks @bob." — a sentence's full stop is not part of the username
        while name and name.lower() not in by_username and name.lower() != EVERYONE and name[-1] in ".-":
            name = name[:-1]
        if name.lower() == EVERYONE:
            if not mentionable.everyone:
                return False
        elif name.lower() in by_username:
            user_id = by_username[name.lower()]
        else:
            return False
        length = 1 + len(name)
    else:
        return False
    if not silent:
        token = state.push("mention", "", 0)
        token.meta = {"userId": user_id}  # None: @everyone
        token.content = src[pos:pos + length]
    state.pos += length
    return True


def _validate_link(url: str) -> bool:
    """markdown-it hands destinations here after decoding entities and escapes, so
    `&#106;avascript:` arrives as `javascript:`."""
    cleaned = "".join(ch for ch in url if ch > " ").lower()
    return cleaned.startswith(LINK_SCHEMES)


def _make_parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"maxNesting": MAX_NESTING, "breaks": True, "linkify": True, "html": False})
    md.enable(["blockquote", "fence", "list",  # blocks
               "backticks", "emphasis", "strikethrough", "link", "autolink", "escape", "newline", "entity",
               "linkify"])  # inline (and linkify's core rule for bare URLs)
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.inline.ruler.before("emphasis", "mention", _mention_rule)
    md.add_render_rule("mention", _render_mention)
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("fence", _render_fence)
    if md.linkify is not None:
        md.linkify.set({"fuzzy_email": True, "fuzzy_link": True})
    return md


def _render_mention(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    user_id = token.meta.get("userId")
    if user_id is None:
        return '<span class="mention mention-everyone">@everyone</span>'
    name = env["mentionable"].users[user_id][1]
    return (f'<span class="mention" data-user-id="{html_lib.escape(user_id)}">@'
            f"{html_lib.escape(name, quote=False)}</span>")


def _render_link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    token.attrSet("target", "_blank")
    token.attrSet("rel", LINK_REL)
    return self.renderToken(tokens, idx, options, env)


def _render_fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    # The info string ("```python") is not rendered: no user text in attributes.
    return "<pre><code>" + html_lib.escape(tokens[idx].content, quote=False) + "</code></pre>\n"


_md = _make_parser()

# Exactly the tags and attributes the renderer above can produce.
_TAGS = {"p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span"}
_ATTRIBUTES = {"a": {"href"}, "span": {"data-user-id"}, "ol": {"start"}}


def sanitise(markup: str) -> str:
    """The whitelist every contentHtml passes through (a second line of defence behind the
    renderer, which never emits anything else)."""
    return nh3.clean(
        markup, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=set(s.rstrip(":/") for s in LINK_SCHEMES),
        link_rel=LINK_REL, set_tag_attribute_values={"a": {"target": "_blank"}},
        allowed_classes={"span": {"mention", "mention-everyone"}}, strip_comments=True,
    )


# --- rendering ---------------------------------------------------------------------------


def may_mention(content: str) -> bool:
    """Whether `content` could mention anyone: every form of a mention (`<@id>`, `@username`,
    `@everyone`) holds an "@". Without one, render's output does not depend on who may be
    mentioned, so a message can be rendered before its conversation's members are known."""
    return "@" in content


def render(content: str, mentionable: Mentionable = NOBODY) -> Rendered:
    """contentHtml, snippet and mentions of a message's content (see the module docstring)."""
    if not content:
        return Rendered("", "", [], False)
    env: dict[str, Any] = {"mentionable": mentionable}
    if len(content) > MAX_RENDER_CHARS:
        return _as_plain_text(content)
    if _is_plain_line(content):  # most chat messages: the parser's and the sanitiser's answer, without them
        line = content.strip()
        return Rendered(f"<p>{line}</p>\n", snippet(line), [], False)
    tokens = _md.parse(content, env)
    if any(token.level >= MAX_NESTING - 1 for token in tokens):
        # markdown-it drops what lies beyond its nesting cap: show everything, unformatted.
        return _as_plain_text(content)
    markup = sanitise(_md.renderer.render(tokens, _md.options, env))
    mentions: list[str] = []
    everyone = False
    for token in _inline_children(tokens):
        if token.type == "mention":
            user_id = token.meta.get("userId")
            if user_id is None:
                everyone = True
            elif user_id not in mentions:
                mentions.append(user_id)
    return Rendered(markup, _snippet_of(tokens, mentionable), mentions, everyone)


# One line that no rule of the parser above acts on: it starts like no block (list item,
# quote, fence) and holds no character that opens inline syntax, an entity, a mention or a
# break, nor one the sanitiser writes as an entity (&, <, >, no-break space); control
# characters (C0, DEL, C1) go the long way too. Such a line renders as one paragraph of the
# line itself (stripped, as the paragraph rule strips it) unless linkify finds a link in it
# (_is_plain_line). tests/domain/test_formatting.py compares this shortcut with the full
# render on random lines.
_PLAIN_LINE = re.compile(r"(?!\d{1,9}[.)])[^\s\-+\x00-\x1f\x7f-\xa0`*_~\[\]<>&\\@][^\x00-\x1f\x7f-\xa0`*_~\[\]<>&\\@]*")


def _is_plain_line(content: str) -> bool:
    linkify = _md.linkify
    return (_PLAIN_LINE.fullmatch(content) is not None
            and (linkify is None or not linkify.pretest(content)))  # pretest: the linkify rules' own first test


def render_plain(text: str) -> Rendered:
    """Text shown as it is (group notices): escaped, line breaks kept, no Markdown."""
    return _as_plain_text(text) if text else Rendered("", "", [], False)


_QUOTE_MARKERS = re.compile(r"^(?:[ \t]*>)+[ \t]?", re.MULTILINE)


def _as_plain_text(content: str) -> Rendered:
    escaped = html_lib.escape(content, quote=False).replace("\r\n", "\n").replace("\n", "<br>\n")
    # The preview shows what was said, not the quote markers in front of it.
    return Rendered(f"<p>{escaped}</p>", snippet(_QUOTE_MARKERS.sub("", content)), [], False)


def _inline_children(tokens: Sequence[Token]) -> list[Token]:
    return [child for token in tokens if token.type == "inline" for child in (token.children or [])]


def _snippet_of(tokens: Sequence[Token], mentionable: Mentionable) -> str:
    parts: list[str] = []
    for token in tokens:
        if token.type == "fence":
            parts.append(token.content)
        elif token.type == "inline":
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
                elif child.type == "mention":
                    user_id = child.meta.get("userId")
                    parts.append("@everyone" if user_id is None else "@" + mentionable.users[user_id][1])
        elif token.nesting == -1 and token.block:
            parts.append(" ")
    return snippet("".join(parts))


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """One line of at most `limit` characters: whitespace collapsed, "…" when cut."""
    line = _SPACES.sub(" ", text).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def is_photo(attachment: Mapping[str, Any]) -> bool:
    """An attachment shown as a picture: a raster image (SVG is a file: never rendered)."""
    kind = str(attachment.get("type") or "")
    return kind.startswith("image/") and kind != "image/svg+xml"


def attachments_label(attachments: Sequence[Mapping[str, Any]] | None) -> str:
    """What a message carries, in words, for previews of a message without text: "Photo",
    "3 photos", "File: report.pdf", "2 files", "3 attachments". The one rule behind every
    preview of a captionless message (the served `snippet`, the conversation list,
    notifications); names are the user's text, kept as text."""
    items = list(attachments or [])
    if not items:
        return ""
    photos = sum(1 for a in items if is_photo(a))
    if photos == len(items):
        return "Photo" if photos == 1 else f"{photos} photos"
    if len(items) == 1:
        return snippet(f"File: {items[0].get('name') or 'file'}")
    return f"{len(items)} files" if photos == 0 else f"{len(items)} attachments"


# --- helpers for views ----------------------------------------------------------------------


def mentions_user(message: Mapping[str, Any], user_id: str) -> bool:
    """Whether a served message mentions `user_id` (by name or through @everyone) — what
    the web app highlights, and notifies about even in a muted conversation."""
    sender = (message.get("sender") or {}).get("_id")
    if sender == user_id or message.get("isDeleted"):
        return False
    return bool(message.get("mentionsEveryone")) or user_id in (message.get("mentions") or [])
