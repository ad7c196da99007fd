"""Docker-style random container names: adjective_surname."""

from __future__ import annotations

import secrets

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


def random_name() -> str:
    return f"{secrets.choice(_LEFT)}_{secrets.choice(_RIGHT)}"
