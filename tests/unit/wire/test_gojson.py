"""orlop.wire.gojson against texts Go's encoder wrote here: dockerd 20.10 (Go 1.19,
SetEscapeHTML(false)) and the docker CLI 28 (Go >= 1.22) for a label
``é<>&\\u2028\\b\\f\\u0001\\n\\t/``."""

from __future__ import annotations

import json

from orlop.wire.gojson import encode, marshal

LABEL = "é<>&\u2028\b\f\u0001\n\t/"


def test_dockerd_body_bytes() -> None:
    assert encode({"Labels": {"a": LABEL}}) == (
        '{"Labels":{"a":"é<>&\\u2028\\u0008\\u000c\\u0001\\n\\t/"}}\n').encode()
    assert encode({"message": "No such container: nope"}) == \
        b'{"message":"No such container: nope"}\n'
    assert encode({"status": "x"}, b"\r\n") == b'{"status":"x"}\r\n'


def test_cli_template_forms() -> None:
    assert marshal(LABEL, short_bf=True) == '"é<>&\\u2028\\b\\f\\u0001\\n\\t/"'
    assert marshal("a=" + LABEL, short_bf=True, escape_html=True) == \
        '"a=é\\u003c\\u003e\\u0026\\u2028\\b\\f\\u0001\\n\\t/"'


def test_backslashes_and_invalid_utf8() -> None:
    # an escaped backslash followed by b is not the escape \b
    assert marshal("x\\b\\f") == '"x\\\\b\\\\f"'
    assert json.loads(marshal("x\\b\\f")) == "x\\b\\f"
    assert marshal(b"n\xff".decode("utf-8", "surrogateescape")) == '"n\ufffd"'
    assert marshal({"b": 1, "a": [None, True, 1.5]}, sort_keys=True) == \
        '{"a":[null,true,1.5],"b":1}'
