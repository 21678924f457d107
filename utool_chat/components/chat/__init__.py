"""The chat page's components (the plan's section 3.5), one module each:

chat_page (ChatPage layout) · conversation_list (ConversationList) · conversation_item
(ConversationItem) · conversation_view (ConversationView) · chat_header (ChatHeader) ·
message_list (MessageList) · message_item (MessageItem) · message_input (MessageInput) ·
typing_indicator (TypingIndicator) · attachment_preview (AttachmentPreview).
"""

from utool_chat.components.chat.chat_page import chat_layout

__all__ = ["chat_layout"]
