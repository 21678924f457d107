"""The chat pages' state: a parent holding what they share, and one substate per concern.

    ChatState                  store.py: the chat slice (`_chat`, backend-only), the open
    │                          conversation's header, the unread total, publishing views
    ├─ ChatPageState           page.py: the route → the open conversation (on_load), time zone
    ├─ ChatListenerState       listener.py: the tab's live bus listener
    ├─ ConversationListState   conversation_list.py: the list and its paging
    ├─ MessagesState           messages.py: the open conversation's messages, paging, read
    ├─ MessageActionsState     message_actions.py: react, delete
    ├─ ComposerState           composer.py: the message box, reply/edit target, links, typing
    ├─ OutboxState             outbox.py: sending (optimistic copy, failed, Retry/Discard)
    ├─ AttachmentsState        attachments.py: uploads a message takes, fresh signed file URLs
    ├─ PeoplePickerState       people_picker.py: new chat / add members
    ├─ SearchState             search.py: message search (the sidebar's field and results)
    ├─ ConversationSettingsState  conversation_settings.py: members, admins, rename, leave
    ├─ PresenceState           presence.py: the header's presence line, this tab's presence
    ├─ PreferencesState        preferences.py: mute / pin / archive, the archived view
    └─ ReceiptsState           receipts.py: message info (who read, who has it delivered)

Reflex loads a substate with its parents only, so a keystroke in the picker's search box
loads PeoplePickerState and ChatState, not the message views. Every substate reaches the one
slice as `self._chat` (a field lives on the state declaring it), and it never goes to the
browser. The slice's reducers are `state/chat_slice.py`, its views `state/chat_views.py`:
pure functions, no Reflex. The domain does every change (`utool_chat.domain`); these states
are a thin door onto it, and every domain call goes through `state.guards.attempt`.
"""

from utool_chat.state.chat.attachments import AttachmentsState
from utool_chat.state.chat.composer import ComposerState
from utool_chat.state.chat.conversation_list import ConversationListState
from utool_chat.state.chat.conversation_settings import ConversationSettingsState
from utool_chat.state.chat.listener import ChatListenerState
from utool_chat.state.chat.message_actions import MessageActionsState
from utool_chat.state.chat.messages import MessagesState
from utool_chat.state.chat.outbox import OutboxState
from utool_chat.state.chat.page import ChatPageState
from utool_chat.state.chat.people_picker import PeoplePickerState
from utool_chat.state.chat.preferences import PreferencesState
from utool_chat.state.chat.presence import PresenceState
from utool_chat.state.chat.receipts import ReceiptsState
from utool_chat.state.chat.search import SearchState
from utool_chat.state.chat.store import ChatState, ChatView

__all__ = [
    "AttachmentsState",
    "ChatListenerState",
    "ChatPageState",
    "ChatState",
    "ChatView",
    "ComposerState",
    "ConversationListState",
    "ConversationSettingsState",
    "MessageActionsState",
    "MessagesState",
    "OutboxState",
    "PeoplePickerState",
    "PreferencesState",
    "PresenceState",
    "ReceiptsState",
    "SearchState",
]
