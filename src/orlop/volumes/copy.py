"""Copy a directory tree between two directory fds, faithfully and without following links.

Used for Docker's copy-up (image content into a new, empty volume) and later for
``volume clone``.  The source is a directory inside a container's rootfs, i.e. content
an image author controls: every step is relative to an open directory fd and uses
``O_NOFOLLOW`` / ``follow_symlinks=False``, so a symlink such as ``data/x -> /etc/shadow``
is copied as a symlink and never read through (the CVE-2018-15664 class: a path checked
and then used after a swap).  What is kept:

* file types: regular files, directories, symlinks (as symlinks), device nodes, FIFOs
  and sockets (mknod);
* hard links between files inside the copied tree stay hard links;
* sparse files stay sparse (SEEK_DATA / SEEK_HOLE, data copied with copy_file_range);
* ownership, then the mode (chown clears set-id bits, so chmod comes after it), then the
  extended attributes (chown also clears ``security.capability``), then the times
  (directories last, after their children changed their mtime).
"""

from __future__ import annotations

import errno
import os
import stat

from orlop.volumes.fsutil import open_dir

# xattrs worth carrying over.  Not ``security.selinux``: the volume gets its own label.
_XATTR_PREFIXES = ("user.", "trusted.")
_XATTR_NAMES = frozenset({"security.capability", "system.posix_acl_access",
                          "system.posix_acl_default"})
_IGNORED_XATTR_ERRNOS = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM)
_CHUNK = 1 << 30


def copy_tree_fd(src_fd: int, dst_fd: int, *, root_metadata: bool = True) -> None:
    """Copy everything inside directory ``src_fd`` into directory ``dst_fd``.

    ``dst_fd`` should be empty: an entry that already exists there is an error (EEXIST),
    never silently merged.  With ``root_metadata`` the destination directory itself takes
    the owner, mode, xattrs and times of the source directory, as Docker's copy-up does.
    Both fds stay open and owned by the caller.
    """
    links: dict[tuple[int, int], str] = {}
    _copy_dir_content(src_fd, dst_fd, dst_fd, "", links)
    if root_metadata:
        st = os.fstat(src_fd)
        _apply_metadata_fd(src_fd, dst_fd, st)


def copy_file_data(src_fd: int, dst_fd: int) -> str:
    """Copy one regular file's content: a reflink (FICLONE) where the filesystem shares
    extents, else the sparse copy below.  Returns ``"reflink"`` or ``"copy"``."""
    from orlop.kernel.fs import ficlone

    try:
        ficlone(dst_fd, src_fd)
        return "reflink"
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL,
                             errno.ENOSYS):
            raise
    _copy_data_sparse(src_fd, dst_fd, os.fstat(src_fd).st_size)
    return "copy"


def _copy_dir_content(src_fd: int, dst_fd: int, dst_root: int, rel: str,
                      links: dict[tuple[int, int], str]) -> None:
    with os.scandir(src_fd) as it:
        names = [e.name for e in it]
    for name in names:
        try:
            st = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed while we copied: as if it never was
        relname = f"{rel}/{name}" if rel else name
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            _copy_dir(src_fd, dst_fd, dst_root, name, relname, st, links)
            continue
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = links.get(key)
            if first is not None:
                # Resolved from the destination root, which only this copy has written.
                os.link(first, name, src_dir_fd=dst_root, dst_dir_fd=dst_fd,
                        follow_symlinks=False)
                continue
            links[key] = relname
        if stat.S_ISREG(mode):
            _copy_file(src_fd, dst_fd, name, st)
        elif stat.S_ISLNK(mode):
            target = os.readlink(name, dir_fd=src_fd)
            os.symlink(target, name, dir_fd=dst_fd)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_fd, follow_symlinks=False)
            # The link's own xattrs (trusted.*; user.* is not allowed on symlinks), read
            # and written through the parents' fds without following the link.
            _copy_xattrs(f"/proc/self/fd/{src_fd}/{name}", f"/proc/self/fd/{dst_fd}/{name}",
                         follow=False)
            os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_fd,
                     follow_symlinks=False)
        else:  # character or block device, FIFO, socket
            os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dst_fd)
            _apply_metadata_path(src_fd, dst_fd, name, st)


def _copy_dir(src_parent: int, dst_parent: int, dst_root: int, name: str, relname: str,
              st: os.stat_result, links: dict[tuple[int, int], str]) -> None:
    sfd = open_dir(name, src_parent)
    try:
        if not _same_inode(os.fstat(sfd), st):
            raise OSError(errno.EAGAIN, "source changed while copying", relname)
        os.mkdir(name, 0o700, dir_fd=dst_parent)  # private until its metadata is set
        dfd = open_dir(name, dst_parent)
        try:
            _copy_dir_content(sfd, dfd, dst_root, relname, links)
            _apply_metadata_fd(sfd, dfd, st)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _copy_file(src_dir: int, dst_dir: int, name: str, st: os.stat_result) -> None:
    sfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC,
                  dir_fd=src_dir)
    try:
        sst = os.fstat(sfd)
        if not stat.S_ISREG(sst.st_mode) or not _same_inode(sst, st):
            raise OSError(errno.EAGAIN, "source changed while copying", name)
        dfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600, dir_fd=dst_dir)
        try:
            _copy_data_sparse(sfd, dfd, sst.st_size)
            _apply_metadata_fd(sfd, dfd, sst)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _copy_data_sparse(sfd: int, dfd: int, size: int) -> None:
    """Copy only the data extents; holes are left as holes by extending with ftruncate."""
    offset = 0
    while offset < size:
        try:
            data = os.lseek(sfd, offset, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:  # nothing but a hole up to the end
                break
            if err.errno in (errno.EINVAL, errno.EOPNOTSUPP):  # no SEEK_DATA here
                data = offset
            else:
                raise
        try:
            hole = os.lseek(sfd, data, os.SEEK_HOLE)
        except OSError:
            hole = size
        hole = min(hole, size)
        _copy_range(sfd, dfd, data, hole - data)
        offset = hole
    os.ftruncate(dfd, size)


def _copy_range(sfd: int, dfd: int, start: int, length: int) -> None:
    pos = start
    end = start + length
    while pos < end:
        try:
            n = os.copy_file_range(sfd, dfd, min(end - pos, _CHUNK), pos, pos)
        except OSError as err:
            if err.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            n = _copy_range_rw(sfd, dfd, pos, end)
        if n == 0:  # the source shrank under us
            return
        pos += n


def _copy_range_rw(sfd: int, dfd: int, pos: int, end: int) -> int:
    buf = os.pread(sfd, min(end - pos, 1 << 20), pos)
    view = memoryview(buf)
    done = 0
    while done < len(buf):
        done += os.pwrite(dfd, view[done:], pos + done)
    return len(buf)


def _apply_metadata_fd(src_fd: int, dst_fd: int, st: os.stat_result) -> None:
    """Owner, then mode (set-id bits survive only a chmod after chown), xattrs, times."""
    os.fchown(dst_fd, st.st_uid, st.st_gid)
    os.fchmod(dst_fd, stat.S_IMODE(st.st_mode))
    _copy_xattrs(src_fd, dst_fd)
    os.utime(dst_fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _apply_metadata_path(src_dir: int, dst_dir: int, name: str, st: os.stat_result) -> None:
    """The same for a node that cannot be opened for I/O (device, FIFO, socket).

    An O_PATH fd pins the node without opening the device or blocking on the FIFO; the
    ``/proc/self/fd/N`` magic link then names exactly that inode for the *xattr calls.
    """
    os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
    os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dst_dir)  # not a symlink: safe
    sfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
    try:
        dfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_dir)
        try:
            _copy_xattrs(f"/proc/self/fd/{sfd}", f"/proc/self/fd/{dfd}")
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
    os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_dir, follow_symlinks=False)


def _copy_xattrs(src: int | str, dst: int | str, *, follow: bool = True) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=follow)
    except OSError as err:
        if err.errno in _IGNORED_XATTR_ERRNOS:
            return
        raise
    for attr in names:
        if not _wanted_xattr(attr):
            continue
        try:
            os.setxattr(dst, attr, os.getxattr(src, attr, follow_symlinks=follow),
                        follow_symlinks=follow)
        except OSError as err:
            if err.errno not in (*_IGNORED_XATTR_ERRNOS, errno.ENODATA):
                raise


def _wanted_xattr(attr: str) -> bool:
    return attr.startswith(_XATTR_PREFIXES) or attr in _XATTR_NAMES


def _same_inode(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_ino == b.st_ino and a.st_dev == b.st_dev
