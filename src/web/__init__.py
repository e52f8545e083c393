"""The web side: what stands in front of the consumer and what it calls, in the web process only."""
