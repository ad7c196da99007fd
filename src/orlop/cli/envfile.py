"""``-e``/``--env`` and ``--env-file`` of ``run``, ``create`` and ``exec``: docker/cli's rules.

A module of its own so that ``exec`` takes them without ``run``'s flag table.
"""

from __future__ import annotations

import os

from orlop.cli.context import UsageError


def resolve_env(entries: list[str]) -> list[str]:
    """docker/cli's ValidateEnv: a bare NAME takes the value it has here, or stays bare
    (the daemon then unsets it: moby's ReplaceOrAppendEnvValues)."""
    return [e if "=" in e or e not in os.environ else f"{e}={os.environ[e]}"
            for e in entries]


def env_file(path: str) -> list[str]:
    """The lines of an ``--env-file``, blank and ``#`` lines left out, each one's leading
    blanks dropped (docker/cli's ParseEnvFile)."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                out.append(line.lstrip())
    except OSError as err:
        raise UsageError(f"open {path}: {err.strerror.lower() if err.strerror else err}") \
            from None
    return out


def env_options(env_files: list[str], env: list[str]) -> list[str]:
    """``--env-file``s' entries, then ``-e``'s, each bare NAME resolved here."""
    return resolve_env([*(e for f in env_files for e in env_file(f)), *env])
