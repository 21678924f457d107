"""The Reflex door: one module per concern, each a thin door onto the domain layer.

    auth.py          AuthState: who uses this tab (the token, login/register forms)
    friends.py       FriendsState: the /friends page, live
    chat/            the chat pages: ChatState (the shared slice) and its substates, one job
                     each (see chat/__init__.py)
    chat_slice.py    the chat slice's data and reducers (pure: no Reflex)
    chat_views.py    display-ready views of the slice (pure)
    live.py          a tab's bus listener (TabListener), for the pages that update live
    guards.py        what reaches a handler from the browser; `attempt`, the one way to call
                     the domain
    handler.py       `handler`: rx.event, typed for mypy

Feature states read the signed-in user with `(await self.get_state(AuthState)).user_id`.
Import states from their modules (`from utool_chat.state.chat import ComposerState`).
"""
