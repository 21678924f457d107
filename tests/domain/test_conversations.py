"""conversations domain: direct/group/project creation, listing, updates, archive/leave."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import col

from tests.conftest import count_queries
from tests.support.events import named
from tests.support.factories import befriend, bulk_messages, direct_conversation, make_user
from utool_chat.db.engine import session_scope
from utool_chat.db.models import Conversation, ConversationMember
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, reactions
from utool_chat.domain import settings as user_settings
from utool_chat.domain.errors import Forbidden, NotFound, ValidationFailed


@pytest.fixture()
def people(db):
    """Four users who accept being put into groups by anyone (groupInvites "everyone"; the
    default, friends only, has its own tests in test_group_consent.py)."""
    found = {name: make_user(name) for name in ("ann", "bob", "cid", "dee")}
    for user in found.values():
        user_settings.update_settings(user["_id"], {"groupInvites": "everyone"})
    return found


def ids(*users):
    return [u["_id"] for u in users]


# --- direct ---------------------------------------------------------------------------------


def test_direct_conversation_between_friends_has_both_participants_and_no_admin(people):
    ann, bob = people["ann"], people["bob"]
    befriend(ann["_id"], bob["_id"])
    conv, created = convs.create_conversation(ann["_id"], [bob["_id"]])
    assert created
    assert conv["type"] == "direct"
    assert {p["_id"] for p in conv["participants"]} == set(ids(ann, bob))
    assert conv["admins"] == []
    assert conv["createdBy"] == ann["_id"]
    assert conv["lastMessage"] is None and conv["unreadCount"] == 0 and conv["isArchived"] is False


def test_direct_conversation_needs_a_friendship(people):
    with pytest.raises(Forbidden) as err:
        convs.create_conversation(people["ann"]["_id"], [people["bob"]["_id"]])
    assert err.value.code == "not_friends"


def test_same_pair_gets_the_same_direct_conversation_from_either_side(people):
    ann, bob = people["ann"], people["bob"]
    first = direct_conversation(ann["_id"], bob["_id"])
    again, created = convs.create_conversation(bob["_id"], [bob["_id"], ann["_id"]])
    assert not created
    assert again["_id"] == first["_id"]
    with session_scope() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Conversation)).scalar_one() == 1


@pytest.mark.parametrize("participants", [[], "bob", [1], ["x" * 65], ["a", "b"]])
def test_direct_conversation_rejects_bad_participant_lists(people, participants):
    with pytest.raises(ValidationFailed):
        convs.create_conversation(people["ann"]["_id"], participants)


def test_direct_conversation_with_unknown_user_is_a_clear_400(people):
    with pytest.raises(ValidationFailed) as err:
        convs.create_conversation(people["ann"]["_id"], ["0" * 32])
    assert err.value.code == "unknown_participants"


def test_creating_a_conversation_tells_every_member(people, events):
    ann, bob = people["ann"], people["bob"]
    conv = direct_conversation(ann["_id"], bob["_id"])
    updates = named(events, "chat:conversation_updated")
    assert sorted(e.user_ids[0] for e in updates) == sorted(ids(ann, bob))
    assert all(e.payload["conversation"]["_id"] == conv["_id"] for e in updates)


# --- groups -----------------------------------------------------------------------------------


def test_group_creator_is_admin_and_name_is_trimmed(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    conv, created = convs.create_conversation(ann["_id"], ids(bob, cid), type="group", name="  Team  ")
    assert created and conv["type"] == "group" and conv["name"] == "Team"
    assert conv["admins"] == [ann["_id"]]
    assert len(conv["participants"]) == 3


def test_group_members_must_exist(people):
    ann, bob = people["ann"], people["bob"]
    with pytest.raises(ValidationFailed) as err:
        convs.create_conversation(ann["_id"], [bob["_id"], "f" * 32], type="group", name="x")
    assert err.value.code == "unknown_participants"


@pytest.mark.parametrize("name", [None, "", "   ", "x" * 101, 42])
def test_group_needs_a_valid_name(people, name):
    with pytest.raises(ValidationFailed) as err:
        convs.create_conversation(people["ann"]["_id"], ids(people["bob"], people["cid"]), type="group", name=name)
    assert err.value.code == "invalid_name"


def test_group_needs_two_other_participants(people):
    ann, bob = people["ann"], people["bob"]
    with pytest.raises(ValidationFailed) as err:
        convs.create_conversation(ann["_id"], ids(ann, bob), type="group", name="pair")
    assert err.value.code == "invalid_participants"


def test_unknown_conversation_type_is_rejected(people):
    with pytest.raises(ValidationFailed) as err:
        convs.create_conversation(people["ann"]["_id"], ids(people["bob"]), type="channel")
    assert err.value.code == "invalid_type"


def test_project_conversation_keeps_its_project_id_and_needs_one(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    conv, _ = convs.create_conversation(ann["_id"], ids(bob, cid), type="project", name="Site", project_id="p-17")
    assert conv["type"] == "project" and conv["projectId"] == "p-17" and conv["admins"] == [ann["_id"]]
    with pytest.raises(ValidationFailed) as err:
        convs.create_conversation(ann["_id"], ids(bob, cid), type="project", name="Site")
    assert err.value.code == "invalid_project_id"


@pytest.fixture()
def team(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    conv, _ = convs.create_conversation(ann["_id"], ids(bob, cid), type="group", name="Team")
    return conv


def test_admin_renames_and_adds_and_removes_members(people, team, events):
    ann, bob, cid, dee = (people[n] for n in ("ann", "bob", "cid", "dee"))
    updated = convs.update_conversation(ann["_id"], team["_id"], name="Crew", add_participant_ids=[dee["_id"]],
                                        remove_participant_ids=[cid["_id"]])
    assert updated["name"] == "Crew"
    assert {p["_id"] for p in updated["participants"]} == set(ids(ann, bob, dee))
    with pytest.raises(NotFound):
        convs.get_conversation(cid["_id"], team["_id"])
    assert convs.get_conversation(dee["_id"], team["_id"])["name"] == "Crew"
    removed = [e for e in named(events, "chat:conversation_updated") if e.payload.get("removed")]
    assert removed and removed[-1].user_ids == [cid["_id"]]


def test_non_admin_cannot_rename_or_change_members(people, team):
    with pytest.raises(Forbidden) as err:
        convs.update_conversation(people["bob"]["_id"], team["_id"], name="Mine")
    assert err.value.code == "not_admin"
    with pytest.raises(Forbidden):
        convs.update_conversation(people["bob"]["_id"], team["_id"], add_participant_ids=[people["dee"]["_id"]])


def test_a_group_avatar_is_never_an_external_url(people, team):
    # Avatars are uploads (tests/domain/test_uploads.py): a link would make every member's
    # browser fetch it from that host.
    for avatar in ("https://img.example/a.png", "javascript:alert(1)", "/api/v1/chat/files/" + "0" * 32):
        with pytest.raises(ValidationFailed) as err:
            convs.update_conversation(people["bob"]["_id"], team["_id"], avatar=avatar)
        assert err.value.code == "invalid_avatar"
    assert convs.update_conversation(people["ann"]["_id"], team["_id"], avatar="")["avatar"] is None
    with pytest.raises(Forbidden) as refused:  # only admins change the photo, as the name
        convs.update_conversation(people["bob"]["_id"], team["_id"], avatar="")
    assert refused.value.code == "not_admin"


def test_admin_can_make_another_member_admin_and_revoke_it(people, team):
    ann, bob = people["ann"], people["bob"]
    updated = convs.update_conversation(ann["_id"], team["_id"], add_admin_ids=[bob["_id"]])
    assert set(updated["admins"]) == set(ids(ann, bob))
    # bob can now rename it
    assert convs.update_conversation(bob["_id"], team["_id"], name="Bobs")["name"] == "Bobs"
    updated = convs.update_conversation(bob["_id"], team["_id"], remove_admin_ids=[ann["_id"]])
    assert updated["admins"] == [bob["_id"]]


def test_admin_ids_must_be_current_members(people, team):
    with pytest.raises(ValidationFailed) as err:
        convs.update_conversation(people["ann"]["_id"], team["_id"], add_admin_ids=[people["dee"]["_id"]])
    assert err.value.code == "not_a_member"


def test_direct_conversations_cannot_be_renamed(people):
    conv = direct_conversation(people["ann"]["_id"], people["bob"]["_id"])
    with pytest.raises(ValidationFailed) as err:
        convs.update_conversation(people["ann"]["_id"], conv["_id"], name="us")
    assert err.value.code == "not_a_group"


def test_empty_update_is_rejected(people, team):
    with pytest.raises(ValidationFailed) as err:
        convs.update_conversation(people["ann"]["_id"], team["_id"])
    assert err.value.code == "nothing_to_update"


def test_last_admin_leaving_hands_admin_to_the_longest_standing_member(people, team):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    with session_scope() as s:  # make cid clearly the oldest remaining member
        s.exec(sa.update(ConversationMember).where(col(ConversationMember.user_id) == cid["_id"])
               .values(joined_at=sa.func.now() - sa.text("interval '1 day'")))
    convs.archive_or_leave(ann["_id"], team["_id"])
    seen_by_bob = convs.get_conversation(bob["_id"], team["_id"])
    assert seen_by_bob["admins"] == [cid["_id"]]
    assert ann["_id"] not in {p["_id"] for p in seen_by_bob["participants"]}
    with pytest.raises(NotFound):
        convs.get_conversation(ann["_id"], team["_id"])
    with pytest.raises(NotFound):  # leaving twice: no longer a member
        convs.archive_or_leave(ann["_id"], team["_id"])


def test_readded_member_sees_history_but_starts_with_nothing_unread(people, team):
    ann, cid = people["ann"], people["cid"]
    convs.update_conversation(ann["_id"], team["_id"], remove_participant_ids=[cid["_id"]])
    bulk_messages(team["_id"], ann["_id"], 5)
    back = convs.update_conversation(ann["_id"], team["_id"], add_participant_ids=[cid["_id"]])
    assert cid["_id"] in {p["_id"] for p in back["participants"]}
    # Nothing unread but the notice that they were added ("Ann added Cid").
    assert convs.get_conversation(cid["_id"], team["_id"])["unreadCount"] == 1
    history, _ = messages.list_messages(cid["_id"], team["_id"])
    assert [m["contentType"] for m in history] == ["system"] + ["text"] * 5 + ["system", "system"]
    assert history[0]["notice"]["type"] == "members_added" and history[0]["notice"]["userIds"] == [cid["_id"]]


# --- archive -------------------------------------------------------------------------------------


def test_archived_direct_conversation_leaves_the_list_until_a_new_message(people):
    ann, bob = people["ann"], people["bob"]
    conv = direct_conversation(ann["_id"], bob["_id"])
    convs.archive_or_leave(ann["_id"], conv["_id"])
    assert convs.list_conversations(ann["_id"])[0] == []
    assert [c["_id"] for c in convs.list_conversations(ann["_id"], archived=True)[0]] == [conv["_id"]]
    assert convs.get_conversation(ann["_id"], conv["_id"])["isArchived"] is True
    assert [c["_id"] for c in convs.list_conversations(bob["_id"])[0]] == [conv["_id"]]  # only ann's view
    messages.send_message(bob["_id"], conv["_id"], "still there?")
    listed, _ = convs.list_conversations(ann["_id"])
    assert [c["_id"] for c in listed] == [conv["_id"]] and listed[0]["isArchived"] is False


def test_opening_an_archived_direct_conversation_again_brings_it_back(people):
    ann, bob = people["ann"], people["bob"]
    conv = direct_conversation(ann["_id"], bob["_id"])
    convs.archive_or_leave(ann["_id"], conv["_id"])
    again, created = convs.create_conversation(ann["_id"], [bob["_id"]])
    assert not created and again["_id"] == conv["_id"] and again["isArchived"] is False


# --- visibility -------------------------------------------------------------------------------------


def test_non_participant_gets_the_same_not_found_as_a_missing_id(people, team):
    dee = people["dee"]
    with pytest.raises(NotFound) as hidden:
        convs.get_conversation(dee["_id"], team["_id"])
    with pytest.raises(NotFound) as missing:
        convs.get_conversation(dee["_id"], "0" * 32)
    assert (hidden.value.code, hidden.value.message) == (missing.value.code, missing.value.message)
    for call in (
        lambda: convs.update_conversation(dee["_id"], team["_id"], avatar=""),
        lambda: convs.archive_or_leave(dee["_id"], team["_id"]),
        lambda: convs.get_conversation(dee["_id"], "not/an id"),
    ):
        with pytest.raises(NotFound):
            call()


# --- listing -------------------------------------------------------------------------------------------


def test_list_is_newest_activity_first_with_last_message_and_unread_count(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    with_bob = direct_conversation(ann["_id"], bob["_id"])
    with_cid = direct_conversation(ann["_id"], cid["_id"])
    messages.send_message(bob["_id"], with_bob["_id"], "one")
    messages.send_message(bob["_id"], with_bob["_id"], "two")
    messages.send_message(cid["_id"], with_cid["_id"], "hi")
    messages.send_message(ann["_id"], with_bob["_id"], "mine")  # newest activity; ann's own
    listed, meta = convs.list_conversations(ann["_id"])
    assert [c["_id"] for c in listed] == [with_bob["_id"], with_cid["_id"]]
    assert listed[0]["lastMessage"]["content"] == "mine"
    # ann answered in the bob chat, which reads what came before; the cid chat is unread
    assert [c["unreadCount"] for c in listed] == [0, 1]
    assert meta == {"page": 1, "limit": 20, "total": 2, "hasMore": False}


def test_list_pages_and_filters_by_type(people, team):
    ann, bob = people["ann"], people["bob"]
    direct = direct_conversation(ann["_id"], bob["_id"])
    first, meta = convs.list_conversations(ann["_id"], page=1, limit=1)
    assert len(first) == 1 and meta["hasMore"] is True and meta["total"] == 2
    second, meta = convs.list_conversations(ann["_id"], page=2, limit=1)
    assert len(second) == 1 and meta["hasMore"] is False and second[0]["_id"] != first[0]["_id"]
    beyond, meta = convs.list_conversations(ann["_id"], page=5, limit=1)
    assert beyond == [] and meta["total"] == 2 and meta["hasMore"] is False
    groups, _ = convs.list_conversations(ann["_id"], type="group")
    assert [c["_id"] for c in groups] == [team["_id"]]
    directs, _ = convs.list_conversations(ann["_id"], type="direct")
    assert [c["_id"] for c in directs] == [direct["_id"]]


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 101}, {"limit": "10"}, {"page": 0}, {"page": True},
                                    {"type": "dm"}])
def test_list_rejects_bad_paging(people, kwargs):
    with pytest.raises(ValidationFailed):
        convs.list_conversations(people["ann"]["_id"], **kwargs)


def _seed_conversations(owner: dict, count: int) -> None:
    """`count` groups, each with a last message that replies, carries an attachment and a
    reaction, and has been read by someone: every batch load of the list has work to do."""
    for i in range(count):
        # fresh senders per group keep every user far below the send rate limit
        others = [make_user(f"{owner['username']}m{i}x{j}") for j in range(2)]
        for other in others:
            befriend(owner, other)
        conv, _ = convs.create_conversation(owner["_id"], ids(*others), type="group", name=f"g{i}")
        first, _ = messages.send_message(others[0]["_id"], conv["_id"], "first")
        last, _ = messages.send_message(others[1]["_id"], conv["_id"], "see", reply_to=first["_id"],
                                        attachments=[{"url": "/f.png", "type": "image/png"}])
        reactions.add_reaction(others[0]["_id"], last["_id"], "👍")
        messages.mark_read(others[0]["_id"], conv["_id"], last["_id"])


def test_listing_conversations_costs_the_same_queries_for_1_and_50(db):
    one, fifty = make_user("owner1"), make_user("owner50")
    _seed_conversations(one, 1)
    _seed_conversations(fifty, 50)
    with count_queries() as q1:
        listed1, _ = convs.list_conversations(one["_id"], limit=100)
    with count_queries() as q50:
        listed50, _ = convs.list_conversations(fifty["_id"], limit=100)
    assert len(listed1) == 1 and len(listed50) == 50
    assert all(c["lastMessage"]["replyTo"] and c["lastMessage"]["reactions"] and c["lastMessage"]["readBy"]
               for c in listed50)
    # rows+unread, participants, last messages+senders, reply targets, reactions, attachments, receipts
    assert q1.count == q50.count == 7, q50.statements


def test_member_ids_lists_active_members_only(people, team):
    convs.archive_or_leave(people["cid"]["_id"], team["_id"])
    assert sorted(convs.member_ids(team["_id"])) == sorted(ids(people["ann"], people["bob"]))
    assert convs.member_ids("no such id") == []


def test_require_member_returns_the_membership_or_not_found(people, team):
    with session_scope() as s:
        assert convs.require_member(s, people["bob"]["_id"], team["_id"]).user_id == people["bob"]["_id"]
        with pytest.raises(NotFound):
            convs.require_member(s, people["dee"]["_id"], team["_id"])


def test_conversation_updated_carries_each_members_own_unread_count(people, team, events):
    ann, bob = people["ann"], people["bob"]
    messages.send_message(ann["_id"], team["_id"], "one")
    messages.send_message(ann["_id"], team["_id"], "two")
    events.clear()
    convs.update_conversation(ann["_id"], team["_id"], name="Renamed")
    updates = {e.user_ids[0]: e.payload["conversation"] for e in named(events, "chat:conversation_updated")}
    assert set(updates) == set(ids(ann, bob, people["cid"]))
    # bob: the two messages and two notices (created, renamed); ann caused all of them
    assert updates[ann["_id"]]["unreadCount"] == 0 and updates[bob["_id"]]["unreadCount"] == 4
    assert all(c["name"] == "Renamed" for c in updates.values())


def test_archiving_tells_only_the_archiver_and_a_new_message_brings_it_back_for_them(people, events):
    ann, bob = people["ann"], people["bob"]
    conv = direct_conversation(ann["_id"], bob["_id"])
    events.clear()
    convs.archive_or_leave(ann["_id"], conv["_id"])
    (archived,) = named(events, "chat:conversation_updated")
    assert archived.user_ids == [ann["_id"]] and archived.payload["conversation"]["isArchived"] is True
    events.clear()
    messages.send_message(bob["_id"], conv["_id"], "ping")
    back = {e.user_ids[0]: e.payload["conversation"] for e in named(events, "chat:conversation_updated")}
    assert back[ann["_id"]]["isArchived"] is False and back[ann["_id"]]["unreadCount"] == 1


def test_leaving_tells_the_leaver_it_is_gone_and_the_rest_who_is_left(people, team, events):
    events.clear()
    convs.archive_or_leave(people["bob"]["_id"], team["_id"])
    updates = named(events, "chat:conversation_updated")
    gone = [e for e in updates if e.payload.get("removed")]
    assert [e.user_ids for e in gone] == [[people["bob"]["_id"]]]
    rest = [e for e in updates if not e.payload.get("removed")]
    assert sorted(e.user_ids[0] for e in rest) == sorted(ids(people["ann"], people["cid"]))
    assert all(people["bob"]["_id"] not in {p["_id"] for p in e.payload["conversation"]["participants"]}
               for e in rest)
