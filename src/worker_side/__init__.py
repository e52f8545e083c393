"""The worker side: what the tasks report through, in the worker process only."""
