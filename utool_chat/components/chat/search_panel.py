"""The message search in the sidebar: the field over the conversation list and the results
panel that replaces the list while a search is open (state: SearchState).

`searchable(conversation_list_body)` is the sidebar's one call. At phone width the sidebar
carries `data-search="1"` while the search is the screen shown, and chat.css shows it in
place of the conversation (a screen of its own, left with its back button). The keys
(Ctrl+K, "/", arrows, Enter, Escape) are assets/jump.js (`window.utool.jump`).

Snippets are rendered as text spans and <mark>s from SearchState's segments: no user text
ever becomes HTML.
"""

from __future__ import annotations

import reflex as rx

from utool_chat.state.chat.search import DEBOUNCE_MS, SearchResultView, SearchState, SegmentView

SEARCH_HINT = "Search messages (Ctrl+K)"


def _segment(segment: SegmentView) -> rx.Component:
    return rx.cond(
        segment.mark,
        rx.el.mark(segment.text, class_name="chat-search-mark"),
        rx.el.span(segment.text),
    )


def _result(result: SearchResultView, index: rx.Var[int]) -> rx.Component:
    return rx.el.button(
        rx.box(
            rx.el.span(
                rx.cond(result.is_group, rx.icon("users", size=12, class_name="inline-icon")),
                result.conversation_name,
                class_name="chat-search-convo truncate",
                custom_attrs={"data-testid": "search-result-conversation"},
            ),
            rx.el.span(result.time_label, class_name="chat-conv-time", title=result.full_time),
            class_name="chat-search-result-head",
        ),
        rx.box(
            rx.el.span(result.sender_name, ": ", class_name="chat-search-sender",
                       custom_attrs={"data-testid": "search-result-sender"}),
            rx.foreach(result.segments, _segment),
            class_name="chat-search-snippet",
            custom_attrs={"data-testid": "search-result-snippet"},
        ),
        type="button",
        id="search-result-" + index.to_string(),
        role="option",
        class_name="chat-search-result",
        tab_index=-1,
        on_click=SearchState.open_result(result.conversation_id, result.message_id),
        custom_attrs={
            "data-testid": "search-result",
            "data-message-id": result.message_id,
            "data-conversation-id": result.conversation_id,
            "data-active": "false",
            "aria-selected": "false",
        },
    )


def _skeleton() -> rx.Component:
    return rx.vstack(
        *[
            rx.vstack(rx.skeleton(height="12px", width="45%"), rx.skeleton(height="12px", width="90%"),
                      spacing="2", width="100%", padding="10px 12px")
            for _ in range(4)
        ],
        spacing="0",
        width="100%",
        custom_attrs={"data-testid": "search-loading"},
    )


def _message(icon: str, title: str, body: rx.Var[str] | str, testid: str, action: rx.Component | None = None
             ) -> rx.Component:
    return rx.vstack(
        rx.icon(icon, size=22, color="var(--gray-10)"),
        rx.text(title, weight="medium", size="2"),
        rx.text(body, size="1", color_scheme="gray", text_align="center"),
        *([action] if action is not None else []),
        align="center",
        spacing="2",
        padding="28px 16px",
        width="100%",
        custom_attrs={"data-testid": testid, "role": "status"},
    )


def _idle() -> rx.Component:
    return _message(
        "search",
        "Search your messages",
        "Any part of a word, \"a phrase\", from:username, in:conversation, has:attachment, has:image, "
        "has:link, before:2026-01-31, after:2026-01-01.",
        "search-idle",
    )


def _results() -> rx.Component:
    return rx.cond(
        SearchState.search_loading,
        _skeleton(),
        rx.cond(
            SearchState.search_error != "",
            _message("cloud-off", "Search failed", SearchState.search_error, "search-error",
                     rx.button(rx.icon("rotate-cw", size=14), "Try again", variant="soft", size="1",
                               on_click=SearchState.retry_search)),
            rx.cond(
                SearchState.results.length() > 0,
                rx.fragment(
                    rx.box(
                        rx.foreach(SearchState.results, _result),
                        role="listbox",
                        id="chat-search-results",
                        aria_label="Search results",
                        custom_attrs={"data-testid": "search-results"},
                    ),
                    rx.cond(
                        SearchState.results_have_more,
                        rx.center(
                            rx.button(
                                rx.cond(SearchState.loading_more, rx.spinner(size="1"),
                                        rx.icon("chevrons-down", size=14)),
                                "Load more results",
                                variant="ghost",
                                size="1",
                                disabled=SearchState.loading_more,
                                on_click=SearchState.load_more_results,
                                custom_attrs={"data-testid": "search-load-more"},
                            ),
                            padding="8px",
                        ),
                    ),
                ),
                rx.cond(
                    SearchState.searched,
                    _message("search-x", "No messages match", "Try another word, or fewer words.", "search-empty"),
                ),
            ),
        ),
    )


def search_field() -> rx.Component:
    return rx.box(
        rx.cond(
            SearchState.search_open,
            rx.icon_button(
                rx.icon("arrow-left", size=18),
                variant="ghost",
                color_scheme="gray",
                radius="full",
                aria_label="Close search",
                on_click=SearchState.close_search,
                custom_attrs={"data-testid": "search-back"},
            ),
        ),
        rx.box(
            rx.icon("search", size=15, class_name="chat-search-icon"),
            rx.debounce_input(
                rx.el.input(
                    id="chat-search-input",
                    type="search",
                    value=SearchState.query,
                    on_change=SearchState.set_query,
                    on_click=SearchState.field_clicked,
                    on_blur=SearchState.field_blurred,
                    placeholder=SEARCH_HINT,
                    auto_complete="off",
                    spell_check=False,
                    enter_key_hint="search",
                    class_name="chat-search-input",
                    role="combobox",
                    custom_attrs={
                        "aria-label": "Search messages",
                        "aria-controls": "chat-search-results",
                        "aria-expanded": rx.cond(SearchState.results.length() > 0, "true", "false"),
                        "aria-autocomplete": "list",
                        "aria-keyshortcuts": "Control+K Meta+K /",
                        "data-testid": "search-input",
                    },
                ),
                debounce_timeout=DEBOUNCE_MS,
            ),
            class_name="chat-search-box",
        ),
        # Doors for assets/jump.js.
        rx.el.button(id="chat-search-open", class_name="chat-hidden", on_click=SearchState.open_search,
                     tab_index=-1, aria_hidden="true"),
        rx.el.button(id="chat-search-close", class_name="chat-hidden", on_click=SearchState.close_search,
                     tab_index=-1, aria_hidden="true"),
        class_name="chat-search-bar",
    )


def search_panel() -> rx.Component:
    return rx.box(
        rx.cond(
            SearchState.scope_id != "",
            rx.hstack(
                rx.text("In", size="1", color_scheme="gray"),
                rx.badge(
                    SearchState.scope_name,
                    rx.el.button(
                        rx.icon("x", size=12),
                        type="button",
                        class_name="chat-search-scope-clear",
                        aria_label="Search all conversations",
                        on_click=SearchState.clear_scope,
                        custom_attrs={"data-testid": "search-scope-clear"},
                    ),
                    variant="soft",
                    radius="full",
                    custom_attrs={"data-testid": "search-scope"},
                ),
                align="center",
                spacing="2",
                padding="6px 14px 0",
            ),
        ),
        rx.cond(SearchState.search_idle, _idle(), _results()),
        class_name="chat-conv-scroll chat-search-panel",
        custom_attrs={"data-testid": "search-panel"},
    )


def searchable(conversation_list_body: rx.Component) -> rx.Component:
    """The sidebar's body: the search field, then the results while a search is open, else
    the conversation list."""
    return rx.fragment(
        rx.script(src=rx.asset("jump.js")),
        search_field(),
        rx.cond(SearchState.search_open, search_panel(), conversation_list_body),
    )
