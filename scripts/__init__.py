"""Developer commands: the settings reference, mutation testing, the soak run."""
