"""Background jobs app: a WebSocket consumer that queues ARQ jobs and relays their results."""
