"""Reusable UI pieces: plain functions returning rx.Component (pages compose them).

avatar.py (user_avatar), dialogs.py (confirm_dialog), layout.py (the app shell, the auth
card), chat/ (the chat page, one module per plan component).
"""
