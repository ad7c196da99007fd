"""Docker's legacy (v1) plugins: discovery on disk and the JSON-over-HTTP protocol."""
