"""A message without text is previewed by what it carries ("Photo", "File: report.pdf"):
the served `snippet` (every door: the conversation list's lastMessage, history, live
events, notifications) comes from domain/formatting.py `attachments_label`."""

from __future__ import annotations

import io

import pytest

from tests import media_samples as samples
from tests.support.factories import direct_conversation, make_user
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, uploads


@pytest.fixture()
def pair(db):
    ann, bob = make_user("ann")["_id"], make_user("bob")["_id"]
    return ann, bob, direct_conversation(ann, bob)["_id"]


def upload(user_id: str, data: bytes, name: str) -> dict:
    return uploads.store_upload(user_id, name, io.BytesIO(data))


def test_captionless_messages_are_previewed_by_their_attachments(pair):
    ann, bob, cid = pair
    photo = upload(ann, samples.png(), "pic.png")
    sent, _ = messages.send_message(ann, cid, "", attachments=[{"uploadId": photo["_id"]}])
    assert sent["snippet"] == "Photo"
    doc = upload(ann, samples.PDF, "report.pdf")
    sent, _ = messages.send_message(ann, cid, "", attachments=[{"uploadId": doc["_id"]}])
    assert sent["snippet"] == "File: report.pdf"
    listed, _meta = convs.list_conversations(bob, page=1, limit=20)
    assert listed[0]["lastMessage"]["snippet"] == "File: report.pdf"
    history, _ = messages.list_messages(bob, cid)
    assert [m["snippet"] for m in history] == ["File: report.pdf", "Photo"]  # newest first


def test_a_caption_is_its_own_preview_and_a_deleted_message_has_none(pair):
    ann, _bob, cid = pair
    photo = upload(ann, samples.png(), "pic.png")
    sent, _ = messages.send_message(ann, cid, "the **beach**", attachments=[{"uploadId": photo["_id"]}])
    assert sent["snippet"] == "the beach"
    bare = upload(ann, samples.png(), "pic2.png")
    other, _ = messages.send_message(ann, cid, "", attachments=[{"uploadId": bare["_id"]}])
    deleted = messages.delete_message(ann, other["_id"])
    assert deleted["snippet"] == "" and deleted["attachments"] == []
