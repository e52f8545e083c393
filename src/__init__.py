"""Background jobs over WebSocket: FastAPI + chanx + ARQ."""
