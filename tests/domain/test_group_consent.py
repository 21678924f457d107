"""Who may put me into a group (settings groupInvites): my friends by default, everyone, or
nobody; refusals are a 403 that does not tell a stranger which of the two it was."""

from __future__ import annotations

import pytest

from tests.support.factories import befriend, make_user
from utool_chat.domain import conversations as convs
from utool_chat.domain import settings
from utool_chat.domain.errors import Forbidden


@pytest.fixture()
def people(db):
    return {n: make_user(n)["_id"] for n in ("ann", "bob", "cid", "eve", "zed")}


def create(actor: str, others: list[str]) -> dict:
    return convs.create_conversation(actor, others, type="group", name="G")[0]


def refusal(call) -> Forbidden:
    with pytest.raises(Forbidden) as err:
        call()
    assert err.value.status == 403 and err.value.code == "group_invite_refused"
    return err.value


def test_by_default_only_friends_may_add_me(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    befriend(ann, bob)
    err = refusal(lambda: create(ann, [bob, cid]))
    assert "Cid" in err.message and "Bob" not in err.message
    befriend(ann, cid)
    assert create(ann, [bob, cid])["participants"]


def test_adding_to_an_existing_group_asks_the_same(people):
    ann, bob, cid, eve = people["ann"], people["bob"], people["cid"], people["eve"]
    for other in (bob, cid):
        befriend(ann, other)
    group = create(ann, [bob, cid])
    refusal(lambda: convs.update_conversation(ann, group["_id"], add_participant_ids=[eve]))
    settings.update_settings(eve, {"groupInvites": "everyone"})
    added = convs.update_conversation(ann, group["_id"], add_participant_ids=[eve])
    assert eve in {p["_id"] for p in added["participants"]}


def test_nobody_means_not_even_friends(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    befriend(ann, bob)
    befriend(ann, cid)
    settings.update_settings(cid, {"groupInvites": "nobody"})
    refusal(lambda: create(ann, [bob, cid]))


def test_a_stranger_cannot_tell_friends_only_from_nobody(people):
    ann, bob, eve, zed = people["ann"], people["bob"], people["eve"], people["zed"]
    settings.update_settings(zed, {"groupInvites": "everyone"})
    settings.update_settings(bob, {"groupInvites": "nobody"})  # eve keeps the default
    as_nobody = refusal(lambda: create(ann, [bob, zed]))
    as_friends_only = refusal(lambda: create(ann, [eve, zed]))
    assert as_nobody.message.replace("Bob", "X") == as_friends_only.message.replace("Eve", "X")


def test_a_refused_creation_stores_nothing(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    refusal(lambda: create(ann, [bob, cid]))
    assert convs.list_conversations(bob)[0] == [] and convs.list_conversations(ann)[0] == []


def test_everyone_lets_strangers_in(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    for who in (bob, cid):
        settings.update_settings(who, {"groupInvites": "everyone"})
    assert create(ann, [bob, cid])["participants"]
