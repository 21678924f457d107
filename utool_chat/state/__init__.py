"""Reflex states: one module per feature, each a thin door onto the domain layer.

AuthState (auth.py) owns the signed-in user; feature states read it with
`await self.get_state(AuthState)`.
"""

from utool_chat.state.auth import AuthState
from utool_chat.state.friends import FriendsState

__all__ = ["AuthState", "FriendsState"]
