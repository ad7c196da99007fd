"""The dashboard's escaping, form parsing and gate decisions, without a server."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from orlop.errors import InvalidParameterError
from orlop.server.dashboard.actions import _attachment, key_values, plain_name
from orlop.server.dashboard.html import Markup, esc, plain, q, render, tag, text, url
from orlop.server.dashboard.security import cross_origin


@pytest.mark.parametrize(("name", "shown"), [
    ("<script>alert(1)", "&lt;script&gt;alert(1)"),
    ("quote\"s'", "quote&quot;s&#x27;"),
    ("new\nline", "new\\nline"),
    ("tab\tand\x1bescape", "tab\\tand\\x1bescape"),
    ("a&b", "a&amp;b"),
    ("caf\udce9", "caf\ufffd"),  # a Latin-1 byte the OS layer surrogate-escaped
])
def test_names_are_escaped_and_made_visible(name: str, shown: str) -> None:
    assert esc(name) == shown
    assert tag("td", name) == f"<td>{shown}</td>"


def test_markup_is_kept_and_attributes_escaped() -> None:
    inner = tag("b", "<x>")
    assert esc(inner) is inner
    assert tag("a", inner, href='/d?x="1"&y') == (
        '<a href="/d?x=&quot;1&quot;&amp;y"><b>&lt;x&gt;</b></a>')
    assert tag("option", "o", selected=True, disabled=False) == "<option selected>o</option>"


def test_text_content_keeps_lines_names_do_not() -> None:
    assert plain("a\n<b>") == "a\n&lt;b&gt;"
    assert text("a\nb") == "a\\nb"


def test_urls_carry_exact_bytes() -> None:
    assert q("/a b/<c>\n") == "%2Fa%20b%2F%3Cc%3E%0A"
    assert q("caf\udce9") == "caf%E9"
    assert url("/dashboard/", q="x&y", empty="") == "/dashboard/?q=x%26y"


def test_render_escapes_every_value() -> None:
    out = render("error.html", message="<script>", details=Markup("<ul></ul>"), back="/")
    assert "&lt;script&gt;" in out and "<ul></ul>" in out and "<script>" not in out


def test_key_values() -> None:
    assert key_values("a=1\n\n b = two=2 \nbare\n", "labels") == {"a": "1", "b": "two=2",
                                                                  "bare": ""}
    with pytest.raises(InvalidParameterError):
        key_values("=nokey", "labels")


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "/abs", "nul\0"])
def test_upload_names_must_be_plain(bad: str) -> None:
    with pytest.raises(InvalidParameterError):
        plain_name(bad)


def test_upload_names_otherwise_kept() -> None:
    for ok in ("<script>", "new\nline", "quote\"s'", "..hidden", " sp "):
        assert plain_name(ok) == ok


def test_attachment_names_are_header_safe() -> None:
    assert _attachment('a"b\r\nc.tar') == 'attachment; filename="a_b__c.tar"'
    assert _attachment("../..") == 'attachment; filename="download"'


@pytest.mark.parametrize(("headers", "refused"), [
    ({}, False),
    ({"Origin": "http://127.0.0.1:8000"}, False),
    ({"Origin": "https://127.0.0.1:8000"}, False),
    ({"Origin": "http://evil.example"}, True),
    ({"Origin": "null"}, True),
    ({"Sec-Fetch-Site": "same-origin"}, False),
    ({"Sec-Fetch-Site": "none"}, False),
    ({"Sec-Fetch-Site": "same-site"}, True),
    ({"Sec-Fetch-Site": "cross-site"}, True),
])
def test_cross_origin(headers: dict[str, str], refused: bool) -> None:
    req = make_mocked_request("POST", "/dashboard/volumes",
                              headers={"Host": "127.0.0.1:8000", **headers})
    assert bool(cross_origin(req)) is refused
