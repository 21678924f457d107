"""Storage: the SQLModel tables and the engine/session plumbing."""
