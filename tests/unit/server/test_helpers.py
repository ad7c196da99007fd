"""The helper-process protocol: Go's FileMode for the archive stat header, error kinds."""

from __future__ import annotations

import stat

from orlop.errors import ConflictError, NotFoundError, RuntimeFailedError
from orlop.server.helpers import error_of
from orlop.server.monitor import go_file_mode


def test_go_file_mode_type_and_special_bits_match_go() -> None:
    assert go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_file_mode(stat.S_IFREG | 0o644 | stat.S_ISUID) == (1 << 23) | 0o644
    assert go_file_mode(stat.S_IFCHR | 0o600) == (1 << 26) | (1 << 21) | 0o600
    assert go_file_mode(stat.S_IFDIR | 0o777 | stat.S_ISVTX) == (1 << 31) | (1 << 20) | 0o777


def test_error_of_helper_outcome_keeps_kind_and_exit_code() -> None:
    assert isinstance(error_of({"kind": "not_found", "message": "x"}), NotFoundError)
    assert isinstance(error_of({"kind": "conflict", "message": "x"}), ConflictError)
    err = error_of({"kind": "system", "message": "boom", "exit_code": 127})
    assert isinstance(err, RuntimeFailedError) and err.exit_code == 127
