"""Redis plumbing both processes use: Sentinel, and waits bounded by the time the process was free."""
