"""The key sequence that detaches a client from a container's terminal (Ctrl-P Ctrl-Q).

Docker's rules, shared by the CLI (local and remote) and orlopd: ``--detach-keys`` wins,
else ``detachKeys`` in the docker CLI's config.json (``$DOCKER_CONFIG``, else
``~/.docker``), else ``ctrl-p,ctrl-q``; the text is moby/term's ``ToBytes`` format (a
comma-separated list of single characters, ``ctrl-@`` ... ``ctrl-z``, ``ctrl-[``,
``ctrl-\\``, ``ctrl-]``, ``ctrl-^``, ``ctrl-_``, ``DEL``).  Only a container (or exec)
with a terminal is detached from, as Docker: without one the bytes are its input.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from orlop.errors import InvalidParameterError

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q

# moby/term's ASCII table: "ctrl-@" is 0, "ctrl-a" 1 ... "ctrl-_" 31.
_CTRL = ["ctrl-@", *(f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)),
         "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]


class Detached(Exception):  # noqa: N818 (what happened, not an error)
    """The user typed the detach sequence: the client leaves, the container runs on.
    Its text is the docker CLI's for ``attach`` (moby/term's EscapeError)."""

    def __init__(self) -> None:
        super().__init__("read escape sequence")


def parse_detach_keys(text: str) -> bytes:
    """moby/term ``ToBytes``, with dockerd's error text for a bad sequence."""
    codes = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            codes += key.encode()
        elif key in _CTRL:
            codes.append(_CTRL.index(key))
        elif key == "DEL":
            codes.append(127)
        else:
            raise InvalidParameterError(f"Invalid detach keys ({text}) provided")
    return bytes(codes)


def config_detach_keys(env: Mapping[str, str] | None = None) -> str:
    """``detachKeys`` of the docker CLI's config file, "" when none (or unreadable:
    the docker CLI ignores a config it cannot parse for this too)."""
    env = os.environ if env is None else env
    base = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(base, "config.json"), encoding="utf-8") as f:
            value = json.load(f).get("detachKeys", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def detach_keys_text(flag: str) -> str:
    """The sequence's text as the docker CLI sends it as ``detachKeys``: the flag, else
    the config's, else "" (the daemon's default)."""
    return flag or config_detach_keys()


def resolve_detach_keys(text: str) -> bytes:
    """The bytes of ``text`` (the flag's or config's), Ctrl-P Ctrl-Q when empty."""
    return parse_detach_keys(text) if text else DEFAULT_DETACH_KEYS


class EscapeScanner:
    """moby/term's escape proxy over a byte stream: bytes that may begin the sequence
    are held back; when the sequence completes they are dropped and :attr:`detached`
    set; when it breaks they are passed on.  Unlike moby's (which only looks at
    one-byte reads, i.e. typing) the sequence is found anywhere in a read, so a
    terminal that delivers both keys in one read still detaches."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.pos = 0
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        """The bytes to pass on now; after a detach, nothing more."""
        if self.detached:
            return b""
        if not self.keys:
            return data
        out = bytearray()
        for b in data:
            if b == self.keys[self.pos]:
                self.pos += 1
                if self.pos == len(self.keys):
                    self.detached = True
                    self.pos = 0
                    return bytes(out)
                continue
            if self.pos:
                out += self.keys[:self.pos]
                self.pos = 0
                if b == self.keys[0]:
                    self.pos = 1
                    continue
            out.append(b)
        return bytes(out)
