"""The Socket.IO door: the `/chat` namespace on the app's own Socket.IO server, fed by the
event bus."""
