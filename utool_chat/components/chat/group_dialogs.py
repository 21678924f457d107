"""Dialogs of the chat page for groups and conversations.

- the people picker: "New chat" (one friend → a direct chat, several → a named group) and
  "Add members" (admins; friends who are not in the group yet), a searchable checkbox list;
- the members dialog: who is in the group, who is an admin, and (for admins) make admin /
  remove; "Add members" and "Leave group" from there too;
- rename (admins) and the leave-group / archive-chat confirmation.
"""

from __future__ import annotations

import reflex as rx

from utool_chat.components.avatar import user_avatar
from utool_chat.components.chat.member_row import member_row
from utool_chat.components.chat.message_info import message_info_dialog
from utool_chat.components.dialogs import confirm_dialog
from utool_chat.state.chat import ChatState, ConversationSettingsState, PeoplePickerState
from utool_chat.state.chat.people_picker import ADD_MEMBERS, NEW_CHAT
from utool_chat.state.chat_views import PersonView


def _person_text(person: PersonView, extra: rx.Component | None = None) -> rx.Component:
    name_line = [rx.text(person.name, weight="medium", size="2", class_name="truncate")]
    if extra is not None:
        name_line.append(extra)
    return rx.box(
        rx.hstack(*name_line, align="center", spacing="2", min_width="0"),
        rx.text("@", person.username, size="1", color_scheme="gray", class_name="truncate", as_="div"),
        flex="1",
        min_width="0",
    )


# --- the people picker -----------------------------------------------------------------


def _pick_row(person: PersonView) -> rx.Component:
    picked = PeoplePickerState.picker_selected.contains(person.id)
    return rx.el.button(
        user_avatar(person.name, person.avatar, size="3"),
        _person_text(person),
        # Display only: the whole row is the control (a click on the box must not toggle twice).
        rx.checkbox(
            checked=picked, size="2", tab_index=-1, pointer_events="none", custom_attrs={"aria-hidden": "true"}
        ),
        type="button",
        role="checkbox",
        on_click=PeoplePickerState.toggle_pick(person.id),
        class_name="chat-pick-row",
        custom_attrs={
            "aria-checked": picked,
            "data-testid": "pick-friend",
            "data-username": person.username,
            "data-picked": picked,
        },
    )


def _chosen_chip(person: PersonView) -> rx.Component:
    return rx.el.button(
        user_avatar(person.name, person.avatar, size="1"),
        rx.text(person.name, size="1", class_name="truncate", max_width="110px"),
        rx.icon("x", size=12),
        type="button",
        on_click=PeoplePickerState.toggle_pick(person.id),
        class_name="chat-chip",
        aria_label="Remove " + person.name,
        custom_attrs={"data-testid": "picked-chip"},
    )


def _picker_list() -> rx.Component:
    return rx.box(
        rx.cond(
            PeoplePickerState.picker_loading,
            rx.center(rx.spinner(size="3"), padding="32px"),
            rx.cond(
                PeoplePickerState.picker_people.length() == 0,
                rx.vstack(
                    rx.center(rx.icon("user-plus", size=22), class_name="chat-empty-icon chat-empty-icon-sm"),
                    rx.text(
                        rx.cond(
                            PeoplePickerState.picker_mode == ADD_MEMBERS,
                            "All your friends are already in this group.",
                            "No friends yet. Add some to start chatting.",
                        ),
                        size="2",
                        color_scheme="gray",
                    ),
                    rx.cond(
                        PeoplePickerState.picker_mode == NEW_CHAT,
                        rx.link(
                            rx.button(rx.icon("users", size=14), "Find friends", variant="soft", size="2"),
                            href="/friends",
                        ),
                    ),
                    align="center",
                    spacing="3",
                    padding="28px 12px",
                    custom_attrs={"data-testid": "picker-empty"},
                ),
                rx.cond(
                    PeoplePickerState.picker_matches.length() == 0,
                    rx.text("Nobody matches “", PeoplePickerState.picker_query, "”.", size="2", color_scheme="gray",
                            padding="20px 12px", as_="div", text_align="center"),
                    rx.foreach(PeoplePickerState.picker_matches, _pick_row),
                ),
            ),
        ),
        class_name="chat-pick-list",
        custom_attrs={"data-testid": "picker-list"},
    )


def people_picker_dialog() -> rx.Component:
    new_chat = PeoplePickerState.picker_mode == NEW_CHAT
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(new_chat, "New chat", "Add members"), size="5", margin_bottom="4px"),
            rx.dialog.description(
                rx.cond(
                    new_chat,
                    "Pick one friend for a private chat, or several for a group.",
                    "Pick the friends to add to “" + ChatState.current_name + "”.",
                ),
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                rx.cond(
                    PeoplePickerState.picker_is_group,
                    rx.box(
                        rx.text("Group name", as_="label", size="2", weight="medium", html_for="group-name"),
                        rx.input(
                            id="group-name",
                            value=PeoplePickerState.group_name,
                            on_change=PeoplePickerState.set_group_name,
                            placeholder="e.g. Weekend trip",
                            max_length=100,
                            size="3",
                            margin_top="6px",
                            custom_attrs={"data-testid": "group-name"},
                        ),
                        width="100%",
                    ),
                ),
                rx.cond(
                    PeoplePickerState.picker_chosen.length() > 0,
                    rx.box(rx.foreach(PeoplePickerState.picker_chosen, _chosen_chip), class_name="chat-chips"),
                ),
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    value=PeoplePickerState.picker_query,
                    on_change=PeoplePickerState.set_picker_query,
                    placeholder="Search friends",
                    size="3",
                    width="100%",
                    custom_attrs={"data-testid": "picker-search", "aria-label": "Search friends"},
                ),
                _picker_list(),
                rx.hstack(
                    rx.text(PeoplePickerState.picker_hint, size="1", color_scheme="gray", flex="1",
                            custom_attrs={"data-testid": "picker-hint"}),
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(
                        PeoplePickerState.picker_submit_label,
                        on_click=PeoplePickerState.submit_picker,
                        disabled=~PeoplePickerState.picker_can_submit,
                        loading=PeoplePickerState.picker_busy,
                        custom_attrs={"data-testid": "picker-submit"},
                    ),
                    align="center",
                    spacing="3",
                    width="100%",
                    padding_top="4px",
                ),
                spacing="3",
                width="100%",
                margin_top="14px",
            ),
            max_width="460px",
            custom_attrs={"data-testid": "people-picker"},
        ),
        open=PeoplePickerState.picker_mode != "",
        on_open_change=PeoplePickerState.set_picker_open,
    )


# --- members ---------------------------------------------------------------------------


def _member_menu(person: PersonView) -> rx.Component:
    return rx.dropdown_menu.root(
        rx.dropdown_menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                radius="full",
                size="2",
                loading=ConversationSettingsState.member_busy_id == person.id,
                aria_label="Member actions",
                custom_attrs={"data-testid": "member-menu"},
            )
        ),
        rx.dropdown_menu.content(
            rx.cond(
                person.is_admin,
                rx.dropdown_menu.item(
                    rx.icon("shield-off", size=14), "Dismiss as admin",
                    on_select=ConversationSettingsState.dismiss_admin(person.id),
                    custom_attrs={"data-testid": "dismiss-admin"},
                ),
                rx.dropdown_menu.item(
                    rx.icon("shield-check", size=14), "Make group admin",
                    on_select=ConversationSettingsState.make_admin(person.id),
                    custom_attrs={"data-testid": "make-admin"},
                ),
            ),
            rx.dropdown_menu.separator(),
            rx.dropdown_menu.item(
                rx.icon("user-minus", size=14), "Remove from group",
                color="red",
                on_select=ConversationSettingsState.ask_remove(person.id),
                custom_attrs={"data-testid": "remove-member"},
            ),
            align="end",
        ),
    )


def _member_row(person: PersonView) -> rx.Component:
    return member_row(
        user_avatar(person.name, person.avatar, size="3"),
        _person_text(
            person,
            rx.cond(person.is_me, rx.text("(you)", size="1", color_scheme="gray", flex_shrink="0")),
        ),
        rx.cond(
            person.is_admin,
            rx.badge(
                "Admin", variant="soft", radius="full", color_scheme="green",
                custom_attrs={"data-testid": "admin-badge"},
            ),
        ),
        rx.cond(ChatState.current_is_admin & ~person.is_me, _member_menu(person)),
        testid="member",
        data={"username": person.username, "admin": person.is_admin},
        class_name="chat-member-row",
    )


def members_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.hstack(
                user_avatar(ChatState.current_name, ChatState.current_avatar, size="5"),
                rx.box(
                    rx.dialog.title(ChatState.current_name, size="5", margin="0", class_name="truncate",
                                    custom_attrs={"data-testid": "members-title"}),
                    rx.text(
                        "Group · ", ConversationSettingsState.members.length(), " members",
                        size="2", color_scheme="gray", as_="div", custom_attrs={"data-testid": "member-count"},
                    ),
                    flex="1",
                    min_width="0",
                ),
                rx.cond(
                    ChatState.current_is_admin,
                    rx.icon_button(
                        rx.icon("pencil", size=16), variant="soft", radius="full", aria_label="Rename group",
                        on_click=ConversationSettingsState.set_rename_open(True),
                    ),
                ),
                align="center",
                spacing="4",
            ),
            rx.dialog.description("Everyone in this group", class_name="sr-only"),
            rx.cond(
                ChatState.current_is_admin,
                rx.button(
                    rx.icon("user-plus", size=16), "Add members",
                    variant="soft", width="100%", margin_top="18px", size="3",
                    on_click=PeoplePickerState.open_add_members,
                    custom_attrs={"data-testid": "add-members"},
                ),
            ),
            rx.box(
                rx.foreach(ConversationSettingsState.members, _member_row),
                class_name="chat-member-list",
                custom_attrs={"data-testid": "member-list"},
            ),
            rx.separator(size="4", margin_y="12px"),
            rx.hstack(
                rx.button(
                    rx.icon("log-out", size=16), "Leave group",
                    variant="ghost", color_scheme="red",
                    on_click=ConversationSettingsState.set_confirm_leave_open(True),
                    custom_attrs={"data-testid": "members-leave"},
                ),
                rx.spacer(),
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                align="center",
                width="100%",
            ),
            max_width="460px",
            custom_attrs={"data-testid": "members-dialog"},
        ),
        open=ConversationSettingsState.members_open,
        on_open_change=ConversationSettingsState.set_members_open,
    )


# --- rename and leave ------------------------------------------------------------------


def rename_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Rename group", size="5"),
            rx.dialog.description("Everyone in the group sees the new name.", size="2", color_scheme="gray"),
            rx.form(
                rx.input(
                    name="name",
                    default_value=ChatState.current_name,
                    max_length=100,
                    size="3",
                    auto_focus=True,
                    margin_top="14px",
                    custom_attrs={"data-testid": "rename-input", "aria-label": "Group name"},
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                    rx.button(
                        "Save", type="submit", loading=ConversationSettingsState.member_busy_id == "conversation",
                        custom_attrs={"data-testid": "rename-save"},
                    ),
                    justify="end",
                    spacing="3",
                    margin_top="16px",
                ),
                on_submit=ConversationSettingsState.rename_group,
            ),
            max_width="420px",
            custom_attrs={"data-testid": "rename-dialog"},
        ),
        open=ConversationSettingsState.rename_open,
        on_open_change=ConversationSettingsState.set_rename_open,
    )


def leave_confirm_dialog() -> rx.Component:
    group = ChatState.current_is_group
    return confirm_dialog(
        rx.cond(group, "Leave “" + ChatState.current_name + "”?", "Archive this chat?"),
        rx.cond(
            group,
            "You will stop receiving its messages and it leaves your list. An admin can add you back.",
            "It leaves your chat list and comes back when " + ChatState.current_name + " sends a new message.",
        ),
        rx.button(
            rx.cond(group, "Leave group", "Archive"),
            color_scheme=rx.cond(group, "red", "gray"),
            on_click=ConversationSettingsState.archive_or_leave,
            custom_attrs={"data-testid": "confirm-archive-or-leave"},
        ),
        open=ConversationSettingsState.confirm_leave_open,
        on_open_change=ConversationSettingsState.set_confirm_leave_open,
    )


def remove_confirm_dialog() -> rx.Component:
    return confirm_dialog(
        "Remove " + ConversationSettingsState.confirm_remove_name + "?",
        rx.text(
            ConversationSettingsState.confirm_remove_name,
            " will leave “", ChatState.current_name, "” and stop receiving its messages. Everyone in the group",
            " sees that you removed them.",
        ),
        rx.button(
            "Remove", color_scheme="red",
            on_click=ConversationSettingsState.remove_member(ConversationSettingsState.confirm_remove_id),
            custom_attrs={"data-testid": "confirm-remove-member"},
        ),
        on_cancel=ConversationSettingsState.ask_remove(""),
        open=ConversationSettingsState.confirm_remove_id != "",
    )


def conversation_dialogs() -> rx.Component:
    """The open conversation's dialogs (rendered once, beside the header)."""
    return rx.fragment(
        members_dialog(), rename_dialog(), leave_confirm_dialog(), remove_confirm_dialog(), message_info_dialog()
    )
