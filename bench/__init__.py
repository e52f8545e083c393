"""The benchmark of issue 5: ``python -m bench`` starts a private stack and measures it (see ``__main__``)."""
