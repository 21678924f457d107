"""The HTTP door: FastAPI routers that parse, authenticate, call the domain, format.
No business rules live here."""
