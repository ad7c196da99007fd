"""One module per Docker noun; each has ``register(routes)``."""
