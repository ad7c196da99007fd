"""The pure parts of orlop/build: Docker's word expansion, .dockerignore rules, the
Dockerfile parser's checks."""

from __future__ import annotations

import pytest

from orlop.build.ignore import Matcher, read_patterns
from orlop.build.parser import escape_char, parse
from orlop.build.words import process_word, process_words
from orlop.errors import InvalidParameterError, UnsupportedError

pytest.importorskip("dockerfile")

ENV = {"A": "1", "EMPTY": "", "SP": "a b"}


@pytest.mark.parametrize(("word", "expected"), [
    ("$A", "1"), ("${A}", "1"), ("x${A}y", "x1y"), ("$NOPE", ""),
    ("${NOPE:-def}", "def"), ("${EMPTY:-def}", "def"), ("${EMPTY-def}", ""),
    ("${A:+set}", "set"), ("${NOPE:+set}", ""), ("'$A'", "$A"), ('"$A"', "1"),
    ('"a\\"b"', 'a"b'), ("\\$A", "$A"), ("$", "$"), ("a b", "a b"),
    ('"${NOPE:-"x y"}"', "x y"),
])
def test_process_word_docker_cases(word: str, expected: str) -> None:
    assert process_word(word, ENV) == expected


def test_process_words_split_and_escape_char() -> None:
    assert process_words('a "b c" $SP', ENV) == ["a", "b c", "a", "b"]
    assert process_word("`$A", ENV, escape="`") == "$A"


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    (["*.log"], "x.log", True), (["*.log"], "sub/x.log", False),
    (["**/*.log"], "sub/x.log", True), (["**/*.log"], "x.log", True),
    (["secret"], "secret/deep/file", True), (["/abs"], "abs", True),
    (["*.log", "!keep.log"], "keep.log", False), (["a/?"], "a/b", True),
    (["a/?"], "a/bc", False), (["[a-c].txt"], "b.txt", True),
    (["./x/../y"], "y", True), (["*", "!sub"], "sub/file", False),
])
def test_dockerignore_rules(patterns: list[str], path: str, excluded: bool) -> None:
    assert Matcher(patterns).excluded(path) is excluded


def test_dockerignore_file_format() -> None:
    assert read_patterns("# c\n\n *.log \n!/keep\n/a/b/\n") == ["*.log", "!keep", "a/b"]


def test_parse_stages_and_meta_args() -> None:
    df = parse("ARG V=1\nFROM busybox:$V AS Base\nRUN x\nFROM base\nCOPY --from=base a b\n")
    assert [i.cmd for i in df.meta_args] == ["ARG"]
    assert [(s.base, s.name) for s in df.stages] == [("busybox:$V", "base"), ("base", "")]
    copy = df.stages[1].instructions[0]
    assert copy.flag("from") == "base" and copy.args == ("a", "b")


@pytest.mark.parametrize(("text", "error", "needle"), [
    ("", InvalidParameterError, "cannot be empty"),
    ("FROM x\nNOPE y\n", InvalidParameterError, "unknown instruction: NOPE"),
    ("RUN x\n", InvalidParameterError, "before FROM"),
    ("FROM x\nRUN <<EOF\nhi\nEOF\n", UnsupportedError, "heredocs"),
    ("FROM x\nONBUILD ONBUILD RUN y\n", InvalidParameterError, "ONBUILD"),
])
def test_parse_refusals(text: str, error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        parse(text)


def test_escape_directive() -> None:
    assert escape_char("# escape=`\nFROM x\n") == "`"
    assert escape_char("FROM x\n# escape=`\n") == "\\"
