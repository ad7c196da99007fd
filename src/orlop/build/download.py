"""``ADD <url>``: the classic builder's remote source, fetched by the builder itself.

What moby's builder does (builder/dockerfile/copy.go ``downloadSource``), and so this:
the URL is fetched with a plain HTTP GET at every build (the cache key is the checksum
of what came back, so an unchanged file still hits the cache); the file is named after
the last element of the URL's path (or the response's Content-Disposition filename)
when the destination is a directory; it gets mode 0600 and the response's
``Last-Modified`` time; it is never unpacked, even when it is an archive.  A failure is
the build's error, in moby's words (``failed to GET <url> with status 404 Not Found``);
without a network that is the connection error, never a silent skip.

The download is written under the engine's ``tmp/`` in a ``build-<pid>-<hex>``
directory, so a build killed mid-download leaves nothing that the next build does not
sweep (build/fs.py ``sweep_scratch``).
"""

from __future__ import annotations

import os
import posixpath
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from orlop.errors import InvalidParameterError

if TYPE_CHECKING:
    from email.message import Message

_TIMEOUT = 60.0  # seconds without progress before the download is given up
_CHUNK = 1 << 20


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def download(url: str, tmp_dir: Path) -> tuple[str, Path]:
    """Fetch ``url`` into a new directory under ``tmp_dir``; returns (that directory,
    the file in it).  The caller removes the directory.

    Raises:
        InvalidParameterError: the GET failed (status, connection, no file name).
    """
    import email.utils
    import urllib.error
    import urllib.request  # here: http.client and friends, for the builds that need them

    os.makedirs(tmp_dir, exist_ok=True)
    work = tmp_dir / f"build-{os.getpid()}-{secrets.token_hex(6)}"
    work.mkdir(mode=0o700)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "orlop-builder"})
        try:
            resp = urllib.request.urlopen(request, timeout=_TIMEOUT)
        except urllib.error.HTTPError as err:
            raise InvalidParameterError(
                f"failed to GET {url} with status {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = err.reason if isinstance(err, urllib.error.URLError) else err
            raise InvalidParameterError(f'Get "{url}": {reason}') from None
        with resp:
            name = _filename(url, resp.headers)
            path = work / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(resp, out, _CHUNK)
            os.chmod(path, 0o600)  # moby: downloaded files are 0600 whatever the umask
            modified = resp.headers.get("Last-Modified")
            if modified:
                try:
                    when = email.utils.parsedate_to_datetime(modified).timestamp()
                except (TypeError, ValueError):
                    when = None
                if when is not None:
                    os.utime(path, (when, when))
        return str(work), path
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _filename(url: str, headers: Message) -> str:
    """The last element of the URL's path, else Content-Disposition's filename (moby's
    getFilenameForDownload); never a path."""
    import urllib.parse

    name = posixpath.basename(urllib.parse.urlparse(url).path.rstrip("/"))
    if not name:
        params = dict(headers.get_params(header="content-disposition") or [])
        name = posixpath.basename(str(params.get("filename") or ""))
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise InvalidParameterError(f"cannot determine filename from url: {url}")
    return name


__all__ = ["download", "is_url"]
