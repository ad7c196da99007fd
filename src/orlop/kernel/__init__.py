"""The only package that makes system calls Python's `os` module does not offer."""
