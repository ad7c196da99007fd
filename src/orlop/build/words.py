"""Variable substitution in instruction arguments, as Docker's shell lexer does it
(``moby/buildkit/frontend/dockerfile/shell/lex.go``): ``$VAR``, ``${VAR}``,
``${VAR:-word}``, ``${VAR-word}``, ``${VAR:+word}``, ``${VAR+word}``, single and double
quotes, and the escape character of the Dockerfile (``\\`` or a backtick).

``ENV``, ``LABEL``, ``ARG``, ``COPY``/``ADD``, ``WORKDIR``, ``USER``, ``VOLUME``,
``EXPOSE``, ``STOPSIGNAL`` and ``FROM`` are expanded; ``RUN``, ``CMD`` and ``ENTRYPOINT``
are not (their shell does it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orlop.errors import InvalidParameterError


def env_map(env: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        k, _, v = item.partition("=")
        out[k] = v
    return out


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.s = text
        self.i = 0
        self.env = env
        self.esc = escape

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def words(self, split: bool) -> list[str]:
        """Process the whole text; with ``split``, break into words at unquoted blanks."""
        words: list[str] = []
        cur: list[str] = []
        started = False
        while self.i < len(self.s):
            ch = self.peek()
            if split and ch in " \t\n":
                self.i += 1
                if started:
                    words.append("".join(cur))
                    cur, started = [], False
                continue
            started = True
            if ch == "'":
                self.i += 1
                cur.append(self.single_quoted())
            elif ch == '"':
                self.i += 1
                cur.append(self.double_quoted())
            elif ch == "$":
                value = self.dollar()
                if split and value:
                    # An unquoted variable splits into words too (lex.go processWords).
                    parts = value.split()
                    if value[:1].isspace() and cur:
                        words.append("".join(cur))
                        cur = []
                    for p in parts[:-1]:
                        words.append("".join([*cur, p]))
                        cur = []
                    if parts:
                        cur.append(parts[-1])
                    if value[-1:].isspace():
                        words.append("".join(cur))
                        cur, started = [], False
                else:
                    cur.append(value)
            elif ch == self.esc:
                self.i += 1
                nxt = self.next()
                cur.append(nxt)
            else:
                self.i += 1
                cur.append(ch)
        if started:
            words.append("".join(cur))
        return words

    def single_quoted(self) -> str:
        out: list[str] = []
        while True:
            ch = self.next()
            if ch == "":
                raise InvalidParameterError(f"unexpected end of statement while looking for "
                                            f"matching single-quote: {self.s}")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quoted(self) -> str:
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == "":
                raise InvalidParameterError(f"unexpected end of statement while looking for "
                                            f"matching double-quote: {self.s}")
            if ch == '"':
                self.i += 1
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.i += 1
            if ch == self.esc:
                nxt = self.peek()
                if nxt == "":
                    continue
                if nxt in ('"', "$", self.esc):
                    self.i += 1
                    ch = nxt
            out.append(ch)

    def name(self) -> str:
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] == "_"):
            self.i += 1
        return self.s[start:self.i]

    def dollar(self) -> str:
        self.i += 1  # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.env.get(name, "")
        self.i += 1
        name = self.name()
        ch = self.peek()
        if ch == "}":
            self.i += 1
            return self.env.get(name, "")
        colon = False
        if ch == ":":
            colon = True
            self.i += 1
            ch = self.peek()
        if ch in ("-", "+", "?"):
            self.i += 1
            word = self.until_brace()
            value = self.env.get(name)
            unset = value is None or (colon and value == "")
            if ch == "-":
                return word if unset else str(value)
            if ch == "+":
                return "" if unset else word
            if unset:
                raise InvalidParameterError(f"{name}: {word or 'is not allowed to be unset'}")
            return str(value)
        raise InvalidParameterError(f"unsupported modifier ({ch}) in substitution: {self.s}")

    def until_brace(self) -> str:
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == "":
                raise InvalidParameterError(f"missing '}}' in substitution: {self.s}")
            if ch == "}":
                self.i += 1
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            if ch == "'":
                self.i += 1
                out.append(self.single_quoted())
                continue
            if ch == '"':
                self.i += 1
                out.append(self.double_quoted())
                continue
            self.i += 1
            if ch == self.esc and self.peek():
                ch = self.next()
            out.append(ch)


def process_word(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word, quotes removed and variables substituted (lex.go ProcessWord)."""
    return "".join(_Lexer(text, env, escape).words(split=False))


def process_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Several words split at unquoted blanks (lex.go ProcessWords)."""
    return _Lexer(text, env, escape).words(split=True)


__all__ = ["env_map", "process_word", "process_words"]
