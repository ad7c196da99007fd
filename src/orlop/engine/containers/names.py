"""Container names: Docker's rule for a given one, and random adjective_surname ones."""

from __future__ import annotations

from orlop.errors import InvalidParameterError
from orlop.randomness import choice, randbelow

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def validate_container_name(name: str) -> None:
    """Docker's rule: ``/?[a-zA-Z0-9][a-zA-Z0-9_.-]+``."""
    n = name.removeprefix("/")
    if len(n) < 2 or not n[0].isalnum() or not n.isascii() or not set(n) <= _NAME_OK:
        raise InvalidParameterError(
            f'Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')

_LEFT = [
    "admiring", "amazing", "bold", "brave", "busy", "calm", "clever", "compassionate",
    "condescending", "cool", "dazzling", "eager", "ecstatic", "elegant", "epic", "festive",
    "focused", "friendly", "funny", "gallant", "gifted", "happy", "hopeful", "jolly", "keen",
    "kind", "laughing", "loving", "lucid", "magical", "modest", "nice", "nifty", "nostalgic",
    "objective", "optimistic", "peaceful", "pensive", "practical", "quirky", "relaxed",
    "serene", "sharp", "silly", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant",
    "vigilant", "wizardly", "wonderful", "youthful", "zealous", "zen",
]
_RIGHT = [
    "albattani", "allen", "archimedes", "babbage", "bardeen", "bell", "bhabha", "blackwell",
    "bohr", "brattain", "cannon", "carson", "cerf", "chandrasekhar", "curie", "darwin",
    "dijkstra", "einstein", "euclid", "euler", "fermat", "feynman", "franklin", "galileo",
    "goldberg", "goodall", "hamilton", "hopper", "hypatia", "johnson", "kepler", "knuth",
    "lamarr", "leakey", "lovelace", "mayer", "mcclintock", "meitner", "mendel", "morse",
    "newton", "noether", "pascal", "pasteur", "ritchie", "shannon", "sinoussi", "thompson",
    "torvalds", "turing", "wiles", "wozniak", "yalow",
]


def random_name(retry: int = 0) -> str:
    """``adjective_surname``; after the first try (``retry`` > 0) with a random digit
    added, as Docker's ``namesgenerator.GetRandomName``."""
    name = f"{choice(_LEFT)}_{choice(_RIGHT)}"
    return f"{name}{randbelow(10)}" if retry > 0 else name
