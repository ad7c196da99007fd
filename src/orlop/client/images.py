"""Image endpoints: /images/..., /commit."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from orlop.client.base import BaseClient, quote
from orlop.client.bodies import chunks, copy_body, gzipped
from orlop.errors import SystemFailureError


def query(pairs: Iterable[tuple[str, str | None]]) -> str:
    """A query string with repeated keys (``changes=...&changes=...``), which the
    mapping ``params`` of :meth:`BaseClient.request` cannot express."""
    kept = [(k, v) for k, v in pairs if v is not None]
    return "?" + urllib.parse.urlencode(kept) if kept else ""


def split_reference(ref: str | None) -> tuple[str | None, str | None]:
    """``repo[:tag]`` -> (repo, tag) as the docker CLI sends them (``registry:5000/app``
    keeps its port: the tag is after the last colon past the last ``/``)."""
    if not ref:
        return None, None
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash and "@" not in ref:
        return ref[:colon], ref[colon + 1:]
    return ref, None


def message_objects(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a message stream, one per line; blank lines, lines that are
    not JSON and JSON that is not an object are skipped, as the docker CLI does."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict):
            yield msg


def message_error(msg: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """A message's error text and its ``errorDetail`` (possibly empty), or None when it
    reports no error; the text falls back on the detail's message."""
    if not (msg.get("error") or msg.get("errorDetail")):
        return None
    detail = msg.get("errorDetail") or {}
    return str(msg.get("error") or detail.get("message", "")), detail


def json_messages(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """Docker's JSON message stream (import, load, pull): one object per line; an
    ``error`` object raises, as the docker CLI's jsonmessage display does."""
    for msg in message_objects(lines):
        error = message_error(msg)
        if error is not None:
            raise SystemFailureError(error[0])
        yield msg


class ImageAPI(BaseClient):
    def images(self, filters: Mapping[str, list[str]] | None = None) -> list[dict[str, Any]]:
        return list(self.json("GET", "/images/json",
                              params={"filters": dict(filters)} if filters else None))

    def inspect_image(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/images/{quote(ref)}/json")
        return out

    def image_history(self, ref: str) -> list[dict[str, Any]]:
        return list(self.json("GET", f"/images/{quote(ref)}/history"))

    def remove_image(self, ref: str, force: bool = False, noprune: bool = False
                     ) -> list[dict[str, str]]:
        return list(self.json("DELETE", f"/images/{quote(ref)}",
                              params={"force": force, "noprune": noprune}) or [])

    def tag_image(self, ref: str, target: str) -> None:
        repo, tag = split_reference(target)
        self.request("POST", f"/images/{quote(ref)}/tag", params={"repo": repo, "tag": tag})

    def prune_images(self, filters: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", "/images/prune", params={
            "filters": dict(filters)} if filters else None)
        return out

    def import_image(self, stream: Any, reference: str | None = None,
                     changes: Iterable[str] = (), message: str = "") -> str:
        """``POST /images/create?fromSrc=-`` with the tar streamed (chunked) as the body;
        the new image's id."""
        repo, tag = split_reference(reference)
        qs = query([("fromSrc", "-"), ("repo", repo), ("tag", tag),
                    ("message", message or None), *(("changes", c) for c in changes)])
        conn, resp = self.open_stream("POST", f"/images/create{qs}", body=chunks(stream),
                                      headers={"Content-Type": "application/x-tar"})
        try:
            image_id = ""
            for msg in json_messages(resp):
                image_id = str(msg.get("status") or image_id)
            return image_id
        finally:
            conn.close()

    def load_images(self, stream: Any, quiet: bool = True,
                    progress: Callable[[str, int, int], None] | None = None) -> list[str]:
        """``POST /images/load``: the lines of its message stream (``Loaded image: x``);
        its ``Loading layer`` messages (sent when not ``quiet``) to ``progress``."""
        conn, resp = self.open_stream("POST", "/images/load", {"quiet": quiet},
                                      body=chunks(stream),
                                      headers={"Content-Type": "application/x-tar"})
        try:
            text = ""
            for m in json_messages(resp):
                detail = m.get("progressDetail")
                if isinstance(detail, dict) and m.get("id") and progress is not None:
                    progress(str(m["id"]), int(detail.get("current") or 0),
                             int(detail.get("total") or 0))
                text += str(m.get("stream", ""))
            return text.splitlines()
        finally:
            conn.close()

    def save_images(self, refs: list[str], out_fd: int) -> int:
        """``GET /images/get?names=...``: the archive written to ``out_fd``."""

        conn, resp = self.open_stream("GET", "/images/get" + query(("names", r) for r in refs))
        return copy_body(conn, resp, out_fd)

    def commit(self, container: str, reference: str | None = None, *,
               changes: Iterable[str] = (), author: str = "", message: str = "",
               pause: bool = True) -> str:
        repo, tag = split_reference(reference)
        qs = query([("container", container), ("repo", repo), ("tag", tag),
                    ("author", author or None), ("comment", message or None),
                    ("pause", "1" if pause else "0"), *(("changes", c) for c in changes)])
        out = self.json("POST", f"/commit{qs}", body={})
        return str(out["Id"])


class BuildAPI(BaseClient):
    def build(self, body: Any, opts: Any, dockerfile: str,
              emit: Callable[[dict[str, Any]], None]) -> str:
        """``POST /build``: the context tar streamed as the body; each message of the
        answer given to ``emit``; the image id.  An ``errorDetail`` raises Docker's text
        with its code (a RUN's exit code)."""
        from orlop.errors import BuildStepError

        pairs: list[tuple[str, str | None]] = [("dockerfile", dockerfile)]
        pairs += [("t", t) for t in opts.tags]
        if opts.target:
            pairs.append(("target", opts.target))
        if opts.build_args:
            pairs.append(("buildargs", json.dumps(opts.build_args)))
        if opts.labels:
            pairs.append(("labels", json.dumps(opts.labels)))
        for key, on in (("nocache", opts.no_cache), ("pull", opts.pull), ("q", opts.quiet),
                        ("forcerm", opts.force_rm)):
            if on:
                pairs.append((key, "1"))
        pairs.append(("rm", "1" if opts.remove else "0"))
        if opts.network:
            pairs.append(("networkmode", opts.network))
        if opts.platform:
            pairs.append(("platform", opts.platform))
        # As the docker CLI sends them: extrahosts repeated, cachefrom a JSON list.
        pairs += [("extrahosts", h) for h in opts.extra_hosts]
        if opts.shm_size:
            pairs.append(("shmsize", str(opts.shm_size)))
        if opts.cache_from:
            pairs.append(("cachefrom", json.dumps(list(opts.cache_from))))
        data = gzipped(chunks(body)) if opts.compress else chunks(body)
        conn, resp = self.open_stream("POST", f"/build{query(pairs)}", body=data,
                                      headers={"Content-Type": "application/x-tar"})
        image_id = ""
        try:
            for msg in message_objects(resp):
                error = message_error(msg)
                if error is not None:
                    text, detail = error
                    raise BuildStepError(text, int(detail.get("code") or 1))
                aux = msg.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = str(aux["ID"])
                emit(msg)
        finally:
            conn.close()
        return image_id

    def build_prune(self, all_: bool = False) -> dict[str, Any]:
        """``POST /build/prune``."""
        out: dict[str, Any] = self.json("POST", "/build/prune",
                                        params={"all": True} if all_ else None)
        return out
