"""Command-line tools: the mutation run (``mutation.py``), the soak run (``soak.py``)."""
