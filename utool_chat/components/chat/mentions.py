"""The data and script of @-mention autocomplete: the open conversation's other members as
hidden rows that assets/mentions.js (window.utool.mentions) offers when "@" is typed."""

from __future__ import annotations

import reflex as rx

from utool_chat.state.chat import ConversationSettingsState
from utool_chat.state.chat_views import PersonView


def _member(person: PersonView) -> rx.Component:
    return rx.cond(
        ~person.is_me,
        rx.el.span(custom_attrs={"data-member-id": person.id, "data-name": person.name,
                                 "data-username": person.username}),
    )


def mention_support() -> rx.Component:
    return rx.fragment(
        rx.script(src=rx.asset("mentions.js")),
        rx.box(rx.foreach(ConversationSettingsState.members, _member), id="mention-members", class_name="chat-hidden"),
    )
