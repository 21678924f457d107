"""Message search through the domain, on Postgres (pg_trgm) and on SQLite (FTS5 trigram):
what matches, every operator, deleted and edited messages, literal special characters,
pagination, who sees what, and the fixed number of queries."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import count_queries
from tests.files_support import upload_settings  # noqa: F401  (a fixture)
from tests.support.factories import befriend, make_user
from utool_chat.db.engine import get_engine
from utool_chat.db.models import Conversation, Message, new_id, table, utcnow
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, ratelimit, reactions, search, uploads
from utool_chat.domain.errors import NotFound, ValidationFailed


class World:
    """ann, bob and cyd; a direct ann–bob, a group "Équipe Rocket" (ann, bob, cyd) and a
    group "Other team" of strangers to ann (dan, eve, bob)."""

    def __init__(self) -> None:
        self.ann, self.bob, self.cyd, self.dan, self.eve = (
            make_user(n)["_id"] for n in ("ann", "bob", "cyd", "dan", "eve"))
        befriend(self.ann, self.bob)
        # People accept groups from friends (settings groupInvites' default).
        for owner, member in ((self.ann, self.cyd), (self.dan, self.eve), (self.dan, self.bob)):
            befriend(owner, member)
        self.direct = convs.create_conversation(self.ann, [self.bob])[0]["_id"]
        self.group = convs.create_conversation(self.ann, [self.bob, self.cyd], type="group",
                                               name="Équipe Rocket")[0]["_id"]
        self.other = convs.create_conversation(self.dan, [self.eve, self.bob], type="group",
                                               name="Other team")[0]["_id"]


@pytest.fixture()
def w(backend) -> World:
    return World()


def send(actor: str, conversation: str, content: str, **kw: Any) -> dict[str, Any]:
    ratelimit.reset()  # these tests send more than a person would in ten seconds
    return messages.send_message(actor, conversation, content, **kw)[0]


def found(actor: str, q: str, **kw: Any) -> list[str]:
    items, _ = search.search_messages(actor, q, **kw)
    return [item["message"]["content"] for item in items]


MESSAGES, CONVERSATIONS = table(Message), table(Conversation)


def store(conversation: str, sender: str, texts: list[str], *, at: datetime | None = None,
          step: timedelta = timedelta(seconds=1)) -> list[str]:
    """Append messages straight to the table (fast), with their search text, one per `step`
    from `at` (same created_at for all when step is 0). Returns their ids."""
    conv = CONVERSATIONS
    start = at or utcnow()
    with get_engine().begin() as conn:
        last = conn.execute(sa.update(conv).where(conv.c.id == conversation)
                            .values(last_seq=conv.c.last_seq + len(texts)).returning(conv.c.last_seq)).scalar_one()
        rows = [{"id": new_id(), "conversation_id": conversation, "seq": last - len(texts) + i + 1,
                 "sender_id": sender, "content": text, "content_type": "text", "is_edited": False,
                 "is_deleted": False, "search_text": search.search_text(text), "created_at": start + step * i,
                 "updated_at": start + step * i} for i, text in enumerate(texts)]
        conn.execute(sa.insert(MESSAGES), rows)
    return [r["id"] for r in rows]


# --- what matches ---------------------------------------------------------------------------------


def test_prefixes_and_substrings(w):
    send(w.ann, w.group, "The deployments went fine")
    send(w.ann, w.group, "Good ideas only")
    assert found(w.bob, "deploy") == found(w.bob, "ploy") == found(w.bob, "ments") == ["The deployments went fine"]
    assert found(w.bob, "de") == ["The deployments went fine"]  # a prefix of "deployments"
    assert found(w.bob, "dea") == ["Good ideas only"]  # 3 characters: anywhere
    send(w.ann, w.group, "Different deeds")
    assert found(w.bob, "d") == ["Different deeds", "The deployments went fine"]  # newest first
    assert found(w.bob, "eas") == ["Good ideas only"] and found(w.bob, "ea") == []  # "ea" starts no word
    assert found(w.bob, "deploy fine") == ["The deployments went fine"]
    assert found(w.bob, "deploy ideas") == []  # every word must appear


def test_phrases_match_in_order(w):
    send(w.ann, w.group, "deploy the app\n\nto production")
    assert found(w.bob, '"the app to"') == ["deploy the app\n\nto production"]  # whitespace runs are one space
    assert found(w.bob, '"app the"') == []
    assert found(w.bob, '"ploy the ap" prod') == ["deploy the app\n\nto production"]


def test_case_accents_and_other_foldings(w):
    send(w.ann, w.group, "Réunion au CAFÉ, Straße 5")
    send(w.ann, w.group, "plain cafe")
    assert found(w.bob, "cafe") == found(w.bob, "CAFÉ") == ["plain cafe", "Réunion au CAFÉ, Straße 5"]
    assert found(w.bob, "reunion strasse") == found(w.bob, "RÉUNION STRASSE") == ["Réunion au CAFÉ, Straße 5"]
    assert found(w.bob, "ＣＡＦＥ") == ["plain cafe", "Réunion au CAFÉ, Straße 5"]


def test_cjk_and_other_scripts(w):
    send(w.ann, w.group, "東京タワーに行きました")
    send(w.ann, w.group, "서울에서 만나요")
    send(w.ann, w.group, "Ελληνικά κείμενα")
    send(w.ann, w.group, "مُحَمَّد رسول")
    assert found(w.bob, "タワー") == found(w.bob, "東") == found(w.bob, "行き") == ["東京タワーに行きました"]
    assert found(w.bob, "에서") == ["서울에서 만나요"]  # mid-word in Korean: no spaces inside words
    assert found(w.bob, "ελληνικα") == found(w.bob, "ΕΛΛ") == ["Ελληνικά κείμενα"]
    assert found(w.bob, "محمد") == ["مُحَمَّد رسول"]


def test_attachment_file_names_match(w):
    sent = send(w.ann, w.group, "see attached", attachments=[
        {"url": "/f/1", "type": "application/pdf", "name": "Quarterly-Résumé.pdf"},
        {"url": "/f/2", "type": "image/png", "name": "chart.png"}])
    items, _ = search.search_messages(w.bob, "resume attached")
    assert [i["message"]["_id"] for i in items] == [sent["_id"]]
    assert items[0]["highlights"] == [[4, 12]]
    assert items[0]["attachmentHighlights"] == [{"index": 0, "highlights": [[10, 16]]}]
    assert found(w.bob, "png") == ["see attached"]
    assert found(w.bob, "pdf chart") == ["see attached"]  # terms may match different fields


@pytest.mark.usefixtures("upload_settings")
def test_uploaded_files_are_found_by_name_too(w):
    upload = uploads.store_upload(w.ann, "Plan de Développement.txt", io.BytesIO(b"plain text"))
    link = {"url": "/f", "type": "text/plain", "name": "notes.txt"}
    sent = send(w.ann, w.group, "two files", attachments=[{"uploadId": upload["_id"]}, link])
    items, _ = search.search_messages(w.bob, "developpement")
    assert [i["message"]["_id"] for i in items] == [sent["_id"]]
    assert items[0]["attachmentHighlights"] == [{"index": 0, "highlights": [[8, 21]]}]
    assert found(w.bob, "notes two") == found(w.bob, "plan txt") == ["two files"]
    messages.edit_message(w.ann, sent["_id"], "renamed text")
    assert found(w.bob, "developpement renamed") == ["renamed text"]  # an edit keeps the file names


def test_literal_special_characters(w):
    texts = ["100% sure", "1000 sure", "a_b", "axb", r"C:\temp", "C:temp", 'she said "hi"', "it's fine",
             "regex .* here", "regex ab here", "x*y", "(group) [set] {brace}", "NEAR(a b) AND OR NOT ^x",
             "col:value", "title - minus"]
    for text in texts:
        send(w.ann, w.group, text)

    def only(q: str) -> list[str]:
        return sorted(found(w.bob, q))

    assert only("100%") == ["100% sure"] and only("%") == ["100% sure"]
    assert only("a_b") == ["a_b"] and only("_") == ["a_b"]
    assert only("\\") == [r"C:\temp"] and only(r"c:\t") == [r"C:\temp"]
    assert only('said "hi') == ['she said "hi"'] and only('"hi"') == ['she said "hi"']
    assert only("it's") == ["it's fine"]
    assert only(".*") == ["regex .* here"] and only("x*y") == ["x*y"] and only("*") == ["regex .* here", "x*y"]
    assert only("[set]") == ["(group) [set] {brace}"] and only("(group)") == ["(group) [set] {brace}"]
    assert only("NEAR(a") == only("AND OR") == only("^x") == ["NEAR(a b) AND OR NOT ^x"]
    assert only("col:value") == ["col:value"] and only("- minus") == ["title - minus"]


def test_deleted_messages_never_match_and_edits_match_the_current_text(w, backend):
    keep = send(w.ann, w.group, "alpha original")
    gone = send(w.ann, w.group, "omega doomed", attachments=[{"url": "/f", "type": "text/plain", "name": "doom.txt"}])
    messages.edit_message(w.ann, keep["_id"], "beta changed")
    messages.delete_message(w.ann, gone["_id"])
    assert found(w.bob, "alpha") == [] and found(w.bob, "beta") == ["beta changed"]
    assert found(w.bob, "omega") == found(w.bob, "doom") == found(w.bob, "has:attachment") == []
    with get_engine().connect() as conn:
        texts = dict(conn.execute(sa.select(MESSAGES.c.id, MESSAGES.c.search_text)).all())
        assert texts[gone["_id"]] == ""  # erased, not hidden
        if backend == "sqlite":  # and the FTS index forgot it too
            hits = conn.execute(sa.text("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH :q"),
                                {"q": '"omega"'}).scalar()
            assert hits == 0


def test_system_messages_are_not_searched(w):
    store(w.group, w.ann, ["ann renamed the group"])
    with get_engine().begin() as conn:
        conn.execute(sa.update(MESSAGES).values(content_type="system"))
    assert found(w.bob, "renamed") == []


# --- operators ----------------------------------------------------------------------------------------


def test_from(w):
    send(w.ann, w.group, "status from ann")
    send(w.bob, w.group, "status from bob")
    send(w.cyd, w.group, "status from cyd")
    assert found(w.ann, "status from:bob") == found(w.ann, "from:@BOB") == ["status from bob"]
    assert found(w.ann, "status from:bob from:cyd") == ["status from cyd", "status from bob"]
    assert found(w.ann, "from:nobody") == []


def test_in(w):
    send(w.ann, w.group, "hello group")
    send(w.ann, w.direct, "hello bob")
    assert found(w.ann, "hello in:équipe") == found(w.ann, "hello in:rocket") == ["hello group"]
    assert found(w.ann, 'hello in:"equipe rocket"') == found(w.ann, f"hello in:{w.group}") == ["hello group"]
    assert found(w.ann, "hello in:bob") == found(w.ann, "in:@bob") == ["hello bob"]  # a direct: the other person
    assert found(w.bob, "in:ann") == ["hello bob"]
    assert found(w.ann, "hello in:bob in:rocket") == ["hello bob", "hello group"]
    assert found(w.ann, "hello in:nowhere") == []
    assert found(w.ann, "hello", conversation_id=w.direct) == ["hello bob"]


def test_has(w):
    send(w.ann, w.group, "a picture", attachments=[{"url": "/p", "type": "image/png", "name": "p.png"}])
    send(w.ann, w.group, "a document", attachments=[{"url": "/d", "type": "application/pdf", "name": "d.pdf"}])
    send(w.ann, w.group, "read https://example.com/x")
    send(w.ann, w.group, "or HTTP://old.example")
    send(w.ann, w.group, "www.example.org too")
    send(w.ann, w.group, "no link: example dot com")
    assert found(w.bob, "has:attachment") == ["a document", "a picture"]
    assert found(w.bob, "has:image") == ["a picture"]
    assert found(w.bob, "has:image has:attachment a") == ["a picture"]
    assert found(w.bob, "has:link") == ["www.example.org too", "or HTTP://old.example", "read https://example.com/x"]
    assert found(w.bob, "has:link example.com") == ["read https://example.com/x"]


def test_dates(w):
    day = datetime(2026, 3, 10, tzinfo=UTC)
    store(w.group, w.ann, ["on the 9th", "on the 10th", "late on the 10th", "on the 11th"], at=day, step=timedelta(0))
    with get_engine().begin() as conn:
        for text, at in [("on the 9th", day - timedelta(seconds=1)), ("late on the 10th", day + timedelta(hours=23)),
                         ("on the 11th", day + timedelta(days=1))]:
            conn.execute(sa.update(MESSAGES).where(MESSAGES.c.content == text).values(created_at=at))
    assert found(w.bob, "on:2026-03-10") == ["late on the 10th", "on the 10th"]
    assert found(w.bob, "before:2026-03-10") == ["on the 9th"]  # the day itself excluded
    assert found(w.bob, "after:2026-03-10") == ["on the 11th"]
    assert found(w.bob, "the after:2026-03-08 before:2026-03-11") == ["late on the 10th", "on the 10th", "on the 9th"]
    assert found(w.bob, "after:2026-03-11 before:2026-03-10") == []


def test_operators_combine(w):
    send(w.bob, w.group, "report attached", attachments=[{"url": "/r", "type": "image/jpeg", "name": "q3.jpg"}])
    send(w.bob, w.direct, "report attached", attachments=[{"url": "/r", "type": "image/jpeg", "name": "q3.jpg"}])
    send(w.ann, w.group, "report attached", attachments=[{"url": "/r", "type": "image/jpeg", "name": "q3.jpg"}])
    items, _ = search.search_messages(w.ann, f"report from:bob in:rocket has:image on:{utcnow().date()}")
    assert [(i["conversation"]["_id"], i["message"]["sender"]["_id"]) for i in items] == [(w.group, w.bob)]


# --- pagination -----------------------------------------------------------------------------------------


def test_pages_never_repeat_or_skip_even_with_equal_timestamps_and_new_messages(w):
    base = utcnow() - timedelta(days=1)
    expected = []
    for i, conversation in enumerate((w.group, w.direct, w.group)):
        # 15 messages per batch; the second batch all share one timestamp.
        ids = store(conversation, w.bob, [f"needle {i}-{j}" for j in range(15)], at=base + timedelta(hours=i),
                    step=timedelta(0) if i == 1 else timedelta(seconds=1))
        expected.extend(ids)
    store(w.other, w.bob, ["needle hidden"] * 5)  # ann is not in that group
    with get_engine().connect() as conn:
        order = conn.execute(
            sa.select(MESSAGES.c.id).where(MESSAGES.c.id.in_(expected))
            .order_by(MESSAGES.c.created_at.desc(), MESSAGES.c.id.desc())).scalars().all()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        items, meta = search.search_messages(w.ann, "needle", limit=7, cursor=cursor)
        seen += [i["message"]["_id"] for i in items]
        pages += 1
        if pages == 2:  # a message arriving between pages is newer than the cursor: not repeated, not missed
            send(w.bob, w.group, "needle arriving late")
        if not meta["hasMore"]:
            assert meta["nextCursor"] is None
            break
        assert len(items) == 7 and meta["nextCursor"]
        cursor = meta["nextCursor"]
    assert seen == order and pages == 7 and len(set(seen)) == 45
    assert found(w.ann, "needle", limit=1) == ["needle arriving late"]


@pytest.mark.parametrize("cursor", ["", "garbage!", "bm90IGEgY3Vyc29y", "MjAyNi0wMS0wMXx4", "x" * 300])
def test_a_bad_cursor_is_400(w, cursor):
    with pytest.raises(ValidationFailed) as err:
        search.search_messages(w.ann, "x", cursor=cursor)
    assert err.value.code == "invalid_cursor"


@pytest.mark.parametrize("limit", [0, 101, "10", True, 2.5])
def test_limit_is_1_to_100(w, limit):
    with pytest.raises(ValidationFailed):
        search.search_messages(w.ann, "x", limit=limit)


# --- who sees what -------------------------------------------------------------------------------------


def test_authorization_matrix(w):
    """member: sees it; stranger and former (left or removed) member: nothing at all, and a
    conversationId of theirs is the same 404 as a random id; archived: still searchable;
    a member added back sees the whole history again, as in the history itself."""
    fay, gus, hal = (make_user(n)["_id"] for n in ("fay", "gus", "hal"))
    for member in (fay, gus, hal):
        befriend(w.ann, member)
    secret = convs.create_conversation(w.ann, [w.bob, fay, gus], type="group", name="Secret plans")[0]["_id"]
    send(w.ann, secret, "the launch code is tangerine")
    send(w.ann, w.direct, "tangerine in the direct chat")
    convs.archive_or_leave(fay, secret)  # fay leaves
    convs.update_conversation(w.ann, secret, remove_participant_ids=[gus])  # gus is removed
    convs.archive_or_leave(w.bob, w.direct)  # bob archives the direct conversation

    assert found(w.bob, "tangerine") == ["tangerine in the direct chat", "the launch code is tangerine"]
    assert found(w.bob, "tangerine", conversation_id=w.direct) == ["tangerine in the direct chat"]
    for outsider in (hal, fay, gus):
        assert found(outsider, "tangerine") == []
        assert found(outsider, "in:secret") == found(outsider, f"in:{secret}") == []
        for conversation in (secret, new_id()):
            with pytest.raises(NotFound) as err:
                search.search_messages(outsider, "tangerine", conversation_id=conversation)
            assert (err.value.code, err.value.message) == ("conversation_not_found", "Conversation not found.")
        with pytest.raises(NotFound):
            messages.list_messages(outsider, secret)  # what search mirrors: no access to the history

    convs.update_conversation(w.ann, secret, add_participant_ids=[gus])
    assert found(gus, "tangerine") == ["the launch code is tangerine"]
    assert [m["content"] for m in messages.list_messages(gus, secret)[0] if m["contentType"] == "text"] == [
        "the launch code is tangerine"]


def test_a_strangers_answer_does_not_depend_on_others_data(w):
    send(w.dan, w.other, "confidential merger talk")
    for _ in range(3):
        send(w.eve, w.other, "confidential again")
    answers, statements = [], []
    for q in ("confidential", "nonexistentword", "conf"):
        with count_queries() as counter:
            answers.append(search.search_messages(w.ann, q))
        statements.append(counter.statements)
    assert answers[0] == answers[1] == answers[2] == ([], {"hasMore": False, "nextCursor": None, "limit": 20})
    assert statements[0] == statements[1] == statements[2]


def test_results_show_the_conversation_and_the_full_message(w):
    sent = send(w.bob, w.direct, "lunch?")
    reactions.add_reaction(w.ann, sent["_id"], "👍")
    messages.mark_read(w.ann, w.direct, sent["_id"])
    (item,), _ = search.search_messages(w.bob, "lunch")
    assert item["message"] == messages.list_messages(w.bob, w.direct)[0][0]  # the history's object exactly
    assert item["message"]["status"] == "read" and item["message"]["reactions"] == [{"user": w.ann, "emoji": "👍"}]
    other = item["conversation"].pop("otherParticipant")
    assert item["conversation"] == {"_id": w.direct, "type": "direct", "name": None, "isArchived": False}
    assert other["_id"] == w.ann and other["username"] == "ann"
    assert item["highlights"] == [[0, 5]] and item["attachmentHighlights"] == []
    send(w.ann, w.group, "lunch for all")
    (group_item,), _ = search.search_messages(w.bob, "lunch", conversation_id=w.group)
    assert group_item["conversation"] == {"_id": w.group, "type": "group", "name": "Équipe Rocket",
                                          "isArchived": False, "otherParticipant": None}


# --- cost ------------------------------------------------------------------------------------------------


def test_search_costs_the_same_for_1_and_50_results(w, backend):
    first = send(w.ann, w.group, "costly needle first")
    send(w.bob, w.group, "costly needle reply", reply_to=first["_id"],
         attachments=[{"url": "/a", "type": "image/png", "name": "a.png"}])
    store(w.direct, w.bob, [f"costly needle {i}" for i in range(60)])
    with count_queries() as one:
        items, _ = search.search_messages(w.ann, "costly needle", limit=1)
    assert len(items) == 1
    with count_queries() as fifty:
        items, _ = search.search_messages(w.ann, "costly needle from:bob", limit=50)
    assert len(items) == 50
    # places, (Postgres only: SET LOCAL plan_cache_mode), matching rows + senders, rosters,
    # then the page's batch load (reactions, attachments, read receipts; reply targets only
    # when a row replies)
    postgres = 1 if backend == "postgresql" else 0
    assert one.count == fifty.count == 6 + postgres, fifty.statements
    with count_queries() as with_reply:
        items, _ = search.search_messages(w.ann, "costly needle reply has:image")
    assert len(items) == 1 and with_reply.count == 7 + postgres, with_reply.statements
    with count_queries() as nothing:
        assert search.search_messages(w.ann, "absent") == ([], {"hasMore": False, "nextCursor": None, "limit": 20})
    assert nothing.count == 2 + postgres


def test_sending_editing_and_deleting_cost_no_extra_query(w):
    """The search text rides in the statements that store the message (pinned counts of
    tests/domain/test_chat_query_counts.py stay as they were)."""
    with count_queries() as sending:
        sent = send(w.ann, w.group, "hello", attachments=[{"url": "/a", "type": "image/png", "name": "a.png"}])
    assert sending.count == 5 + 1  # + the attachment insert
    with count_queries() as editing:
        messages.edit_message(w.ann, sent["_id"], "hello again")
    # message+sender, roster, attachment names, update, then serialising (reactions, attachments, receipts)
    assert editing.count == 7, editing.statements
