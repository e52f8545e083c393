"""Background Jobs over WebSocket AsyncAPI documentation - Generated AsyncAPI Client

Version: 0.1.0

This client was automatically generated from an AsyncAPI schema.
"""

__version__ = "0.1.0"
__title__ = "Background Jobs over WebSocket AsyncAPI documentation"
