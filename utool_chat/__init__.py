"""uTool Chat: real-time chat for the uTool app (Reflex + SQLModel + Socket.IO)."""
