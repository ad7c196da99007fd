"""args[0] lookup in the container's PATH: Go's exec.LookPath rules, Docker's exit codes."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from orlop.runtime.failure import InitStepError
from orlop.runtime.init import _path_env, close_fds_from, exit_code_for, lookup_path


def fake_stat(files: dict[str, int]):  # type: ignore[no-untyped-def]
    def st(path: str) -> os.stat_result:
        if path not in files:
            raise FileNotFoundError(errno.ENOENT, "nope", path)
        return os.stat_result((files[path], 0, 0, 1, 0, 0, 0, 0, 0, 0))
    return st


EXE = stat.S_IFREG | 0o755
DATA = stat.S_IFREG | 0o644


def test_lookup_path_first_executable_in_path_order() -> None:
    st = fake_stat({"/usr/bin/true": EXE, "/bin/true": EXE})
    assert lookup_path("true", "/usr/bin:/bin", st) == "/usr/bin/true"


def test_lookup_path_skips_non_executable_match() -> None:
    st = fake_stat({"/usr/bin/tool": DATA, "/bin/tool": EXE})
    assert lookup_path("tool", "/usr/bin:/bin", st) == "/bin/tool"


def test_lookup_path_not_found_is_127() -> None:
    with pytest.raises(InitStepError) as exc:
        lookup_path("nope", "/bin", fake_stat({}))
    assert exc.value.message == 'exec: "nope": executable file not found in $PATH'
    assert exc.value.exec_failure and exit_code_for(exc.value.errno) == 127


def test_lookup_path_non_executable_in_path_only_is_not_found() -> None:
    with pytest.raises(InitStepError) as exc:
        lookup_path("tool", "/bin", fake_stat({"/bin/tool": DATA}))
    assert exit_code_for(exc.value.errno) == 127


def test_lookup_path_with_slash_used_as_is() -> None:
    assert lookup_path("/opt/x", "/bin", fake_stat({"/opt/x": EXE})) == "/opt/x"
    with pytest.raises(InitStepError) as exc:
        lookup_path("/etc/passwd", "/bin", fake_stat({"/etc/passwd": DATA}))
    assert exc.value.message == 'exec: "/etc/passwd": permission denied'
    assert exit_code_for(exc.value.errno) == 126
    with pytest.raises(InitStepError) as exc:
        lookup_path("/etc", "/bin", fake_stat({"/etc": stat.S_IFDIR | 0o755}))
    assert exit_code_for(exc.value.errno) == 126
    with pytest.raises(InitStepError) as exc:
        lookup_path("./missing", "/bin", fake_stat({}))
    assert exit_code_for(exc.value.errno) == 127


def test_lookup_path_empty_entry_is_cwd() -> None:
    assert lookup_path("x", "/bin:", fake_stat({"./x": EXE})) == "./x"


def test_path_env_default_and_last_wins() -> None:
    assert _path_env([]) == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert _path_env(["PATH=/a", "PATH=/b"]) == "/b"
    assert _path_env(["PATH="]) == ""


def test_close_fds_from_keeps_listed_fds() -> None:
    pid = os.fork()
    if pid == 0:
        try:
            fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(6)]
            keep = [fds[1], fds[4]]
            close_fds_from(3, keep)
            alive = sorted(int(n) for n in os.listdir("/proc/self/fd") if int(n) >= 3)
            # listdir's own directory fd is the lowest free number, so may show up
            os._exit(0 if set(keep) <= set(alive) and not set(fds) - set(keep) & set(alive)
                     else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
