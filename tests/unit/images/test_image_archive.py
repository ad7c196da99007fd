"""Safe extraction of hostile tars (containerd TestBreakouts style), built in memory.

Each hostile archive is extracted into ``<tmp>/outer/dest`` and the test asserts
that nothing changed anywhere else under ``<tmp>`` (a snapshot before/after), and
that the error names the entry.  No root needed: owners are the caller's own.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.archive.extract import ExtractStats, WhiteoutMode, extract_tar
from orlop.errors import InvalidArchiveError
from orlop.images.archive import digest_stream

ROOT = os.geteuid() == 0


class TarBuilder:
    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.tf = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name: str, type_: bytes, **kw: object) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.uid, ti.gid = os.getuid(), os.getgid()
        ti.mtime = 1_700_000_000
        ti.mode = 0o644
        for k, v in kw.items():
            setattr(ti, k, v)
        return ti

    def file(self, name: str, data: bytes = b"data", **kw: object) -> TarBuilder:
        ti = self._info(name, tarfile.REGTYPE, size=len(data), **kw)
        self.tf.addfile(ti, io.BytesIO(data))
        return self

    def dir(self, name: str, **kw: object) -> TarBuilder:
        kw.setdefault("mode", 0o755)
        self.tf.addfile(self._info(name, tarfile.DIRTYPE, **kw))
        return self

    def symlink(self, name: str, target: str) -> TarBuilder:
        self.tf.addfile(self._info(name, tarfile.SYMTYPE, linkname=target, mode=0o777))
        return self

    def hardlink(self, name: str, target: str) -> TarBuilder:
        self.tf.addfile(self._info(name, tarfile.LNKTYPE, linkname=target))
        return self

    def fifo(self, name: str) -> TarBuilder:
        self.tf.addfile(self._info(name, tarfile.FIFOTYPE))
        return self

    def bytes(self) -> bytes:
        self.tf.close()
        return self.buf.getvalue()


def snapshot(base: Path, skip: Path) -> dict[str, tuple[int, int, float]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p == skip:
                continue
            st = p.lstat()
            out[str(p)] = (st.st_mode, st.st_size, st.st_mtime)
    return out


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(base, dest): dest is base/outer/dest; base/outer/etc/passwd is a decoy."""
    dest = tmp_path / "outer" / "dest"
    dest.mkdir(parents=True)
    (tmp_path / "outer" / "etc").mkdir()
    (tmp_path / "outer" / "etc" / "passwd").write_text("host secret\n")
    (tmp_path / "evil").mkdir()
    yield tmp_path, dest


def extract(data: bytes, dest: Path, whiteouts: WhiteoutMode = "keep") -> ExtractStats:
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return extract_tar(io.BytesIO(data), fd, keep_owner=True, whiteouts=whiteouts)
    finally:
        os.close(fd)


def extract_checked(box: tuple[Path, Path], data: bytes) -> ExtractStats | InvalidArchiveError:
    base, dest = box
    before = snapshot(base, dest)
    try:
        result: ExtractStats | InvalidArchiveError = extract(data, dest)
    except InvalidArchiveError as err:
        result = err
    assert snapshot(base, dest) == before, "something was written outside the destination"
    return result


# --- breakouts ---------------------------------------------------------------------


def test_extract_dotdot_escape_refused(box: tuple[Path, Path]) -> None:
    res = extract_checked(box, TarBuilder().file("../evil/x").bytes())
    assert isinstance(res, InvalidArchiveError)
    assert '"../evil/x"' in str(res) and "outside" in str(res)


def test_extract_dotdot_inside_allowed(box: tuple[Path, Path]) -> None:
    res = extract_checked(box, TarBuilder().file("a/../b").bytes())
    assert isinstance(res, ExtractStats)
    assert (box[1] / "b").read_bytes() == b"data"


def test_extract_absolute_name_stays_inside(box: tuple[Path, Path]) -> None:
    res = extract_checked(box, TarBuilder().file("/abs/evil").file("/../../up").bytes())
    assert isinstance(res, ExtractStats)
    assert (box[1] / "abs" / "evil").read_bytes() == b"data"
    assert (box[1] / "up").exists()


@pytest.mark.parametrize("target", ["/", "../../..", "/../.."])
def test_extract_write_through_symlink_resolved_inside(box: tuple[Path, Path],
                                                       target: str) -> None:
    data = TarBuilder().symlink("link", target).file("link/evil", b"x").bytes()
    res = extract_checked(box, data)
    assert isinstance(res, ExtractStats)
    assert os.readlink(box[1] / "link") == target  # kept as a symlink, verbatim
    assert (box[1] / "evil").read_bytes() == b"x"  # landed inside, as chroot would see it


def test_extract_symlink_to_outside_file_then_overwrite_replaces_link(
        box: tuple[Path, Path]) -> None:
    # A symlink named like a later regular file must be replaced, never written through.
    data = TarBuilder().symlink("passwd", "../etc/passwd").file("passwd", b"new").bytes()
    res = extract_checked(box, data)
    assert isinstance(res, ExtractStats)
    assert not (box[1] / "passwd").is_symlink()
    assert (box[0] / "outer" / "etc" / "passwd").read_text() == "host secret\n"


def test_extract_dangling_symlink_parent_refused(box: tuple[Path, Path]) -> None:
    # ../../../evil exists outside; inside the root it is <dest>/evil, which does not.
    res = extract_checked(box, TarBuilder().symlink("link", "../../../evil")
                          .file("link/x").bytes())
    assert isinstance(res, InvalidArchiveError)
    assert '"link/x"' in str(res)
    assert not list((box[0] / "evil").iterdir())


def test_extract_symlink_parent_dir_swap_stays_inside(box: tuple[Path, Path]) -> None:
    # dir, then the same name as a symlink to outside, then a file under it.
    data = (TarBuilder().dir("etc").dir("d").symlink("d", "../../etc")
            .file("d/passwd", b"pwn").bytes())
    res = extract_checked(box, data)
    assert isinstance(res, ExtractStats)
    assert (box[1] / "etc" / "passwd").read_bytes() == b"pwn"


def test_extract_hardlink_to_outside_refused(box: tuple[Path, Path]) -> None:
    res = extract_checked(box, TarBuilder().hardlink("pw", "../../etc/passwd").bytes())
    assert isinstance(res, InvalidArchiveError)
    assert str(res).startswith('invalid hardlink "pw" -> "../../etc/passwd"')


def test_extract_hardlink_through_symlink_refused(box: tuple[Path, Path]) -> None:
    data = TarBuilder().symlink("etc", "../etc").hardlink("pw", "etc/passwd").bytes()
    res = extract_checked(box, data)
    assert isinstance(res, InvalidArchiveError)
    assert "goes through a symlink" in str(res) and '"pw"' in str(res)


def test_extract_hardlink_absolute_symlink_dir_refused(box: tuple[Path, Path]) -> None:
    data = TarBuilder().symlink("root", "/").hardlink("x", "/root/../../outer/etc/passwd").bytes()
    res = extract_checked(box, data)
    assert isinstance(res, InvalidArchiveError)


def test_extract_hardlink_inside_works(box: tuple[Path, Path]) -> None:
    res = extract_checked(box, TarBuilder().file("a", b"same").hardlink("b", "a").bytes())
    assert isinstance(res, ExtractStats)
    a, b = (box[1] / "a").stat(), (box[1] / "b").stat()
    assert (a.st_ino, a.st_nlink) == (b.st_ino, 2)
    assert res.content_size == 4  # one inode counted once


def test_extract_hardlink_to_symlink_links_the_symlink(box: tuple[Path, Path]) -> None:
    data = TarBuilder().symlink("s", "/etc/passwd").hardlink("h", "s").bytes()
    res = extract_checked(box, data)
    assert isinstance(res, ExtractStats)
    assert os.readlink(box[1] / "h") == "/etc/passwd"


def test_extract_file_over_directory_replaces_it(box: tuple[Path, Path]) -> None:
    data = TarBuilder().dir("d").file("d/x").file("d", b"f").bytes()
    res = extract_checked(box, data)
    assert isinstance(res, ExtractStats)
    assert (box[1] / "d").read_bytes() == b"f"


# --- metadata ----------------------------------------------------------------------


def test_extract_modes_times_and_setuid_kept(box: tuple[Path, Path]) -> None:
    data = (TarBuilder().dir("ro", mode=0o555).file("ro/suid", mode=0o4755)
            .dir("sticky", mode=0o1777).fifo("ro/fifo").bytes())
    extract(data, box[1])
    d = box[1]
    assert stat.S_IMODE((d / "ro").stat().st_mode) == 0o555
    assert stat.S_IMODE((d / "ro" / "suid").stat().st_mode) == 0o4755
    assert stat.S_IMODE((d / "sticky").stat().st_mode) == 0o1777
    assert stat.S_ISFIFO((d / "ro" / "fifo").lstat().st_mode)
    assert (d / "ro").stat().st_mtime == 1_700_000_000  # set after its children
    assert (d / "ro" / "suid").stat().st_mtime == 1_700_000_000
    os.chmod(d / "ro", 0o755)  # so tmp_path cleanup works without root


def test_extract_xattr_from_pax_kept_and_overlay_ones_dropped(box: tuple[Path, Path]) -> None:
    b = TarBuilder()
    ti = b._info("f", tarfile.REGTYPE, size=0)
    ti.pax_headers = {"SCHILY.xattr.user.test": "v", "SCHILY.xattr.trusted.overlay.opaque": "y"}
    b.tf.addfile(ti, io.BytesIO(b""))
    extract(b.bytes(), box[1])
    try:
        names = os.listxattr(box[1] / "f")
    except OSError:
        pytest.skip("no xattr support here")
    if "user.test" not in names:
        pytest.skip("user xattrs not supported by this filesystem")
    assert os.getxattr(box[1] / "f", "user.test") == b"v"
    assert "trusted.overlay.opaque" not in names


# --- streams -------------------------------------------------------------------------


def test_extract_diff_id_is_sha256_of_uncompressed_stream(box: tuple[Path, Path]) -> None:
    data = TarBuilder().dir("d").file("d/f", b"x" * 5000).bytes()
    res = extract(gzip.compress(data), box[1])
    assert res.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (res.tar_size, res.compression, res.entries) == (len(data), "gzip", 2)
    assert digest_stream(io.BytesIO(data)) == (res.diff_id, len(data))


def test_extract_truncated_gzip_clear_error(box: tuple[Path, Path]) -> None:
    blob = gzip.compress(TarBuilder().file("f", os.urandom(200_000)).bytes())
    with pytest.raises(InvalidArchiveError, match="gzip"):
        extract(blob[: len(blob) // 2], box[1])


def test_extract_truncated_tar_clear_error(box: tuple[Path, Path]) -> None:
    blob = TarBuilder().file("f", b"y" * 100_000).bytes()
    with pytest.raises(InvalidArchiveError, match=r'"f".*truncated|invalid tar'):
        extract(blob[:20_000], box[1])


def test_extract_garbage_and_empty_refused(box: tuple[Path, Path]) -> None:
    with pytest.raises(InvalidArchiveError, match="invalid tar archive"):
        extract(b"this is not a tar file at all" * 40, box[1])
    with pytest.raises(InvalidArchiveError, match="empty"):
        extract(b"", box[1])


# --- whiteouts -----------------------------------------------------------------------


def test_extract_whiteouts_keep_mode_are_plain_files(box: tuple[Path, Path]) -> None:
    extract(TarBuilder().file("d/.wh.x").file("d/.wh..wh..opq").bytes(), box[1], "keep")
    assert (box[1] / "d" / ".wh.x").is_file()
    assert (box[1] / "d" / ".wh..wh..opq").is_file()


def test_extract_whiteouts_oci_mode_applied(box: tuple[Path, Path]) -> None:
    d = box[1]
    (d / "gone").write_text("lower")
    (d / "o").mkdir()
    (d / "o" / "old").write_text("lower")
    data = TarBuilder().file("o/new").file(".wh.gone").file("o/.wh..wh..opq").bytes()
    extract(data, d, "oci")
    assert not (d / "gone").exists()
    assert sorted(os.listdir(d / "o")) == ["new"]


@pytest.mark.parametrize("name", [".wh..", ".wh."])
def test_extract_whiteout_bad_name_refused(box: tuple[Path, Path], name: str) -> None:
    with pytest.raises(InvalidArchiveError, match="whiteout"):
        extract(TarBuilder().file(f"d/{name}").bytes(), box[1], "oci")


@pytest.mark.skipif(not ROOT, reason="overlay whiteouts are devices and trusted.* xattrs")
def test_extract_whiteouts_overlay_mode_converted(box: tuple[Path, Path]) -> None:
    d = box[1]
    extract(TarBuilder().dir("o").file("o/.wh..wh..opq").file("a/.wh.x").bytes(), d, "overlay")
    st = (d / "a" / "x").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(d / "o", "trusted.overlay.opaque") == b"y"
    assert not (d / "o" / ".wh..wh..opq").exists()
