"""Images: a content-addressed layer store, image configs and tags (design.md)."""
