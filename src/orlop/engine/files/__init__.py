"""Files in containers: the stopped-container view, cp, export, commit, copy-up, diff."""
