"""Developer commands: the settings reference (``settings_doc.py``), mutation testing (``mutation.py``), the soak
run (``soak.py``)."""
