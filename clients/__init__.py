"""Clients of the app: the typed client chanx generates from its AsyncAPI spec, and the script that regenerates it."""
