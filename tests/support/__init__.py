"""Helpers shared by every test folder (and bench/): factories for users, friendships and
conversations, the event recorders, and the real backend in a child process."""
