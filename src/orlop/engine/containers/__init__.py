"""Container verbs: create, start, run, stop, exec, attach, logs, health, stats."""
