"""The domain layer: every change to chat data happens here, exactly once.

Modules follow the domain verbs (Zulip's actions/ pattern):
  accounts       register, login, logout, authenticate (token → user)
  friends        search users, friend requests, friendships
  conversations  create (direct/group/project), list, get, update membership, archive/leave
  messages       send, list history, edit, delete, mark read/delivered, catch-up sync
  reactions      add/remove a reaction
  typing         typing start/stop (never stored)
  ratelimit      per-user limits on sending and typing

Doors (HTTP in utool_chat/api, Socket.IO in utool_chat/realtime, Reflex states in
utool_chat/state) call these functions and only format the results. Functions return the
contract's dict shapes (see serializers) and raise `errors.DomainError` subclasses.
Events go to the bus only after commit (utool_chat/events).
"""
