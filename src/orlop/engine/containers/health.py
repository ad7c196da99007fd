"""Healthchecks without a daemon: the container's monitor runs them.

Docker's rules (moby daemon/health.go): the first probe runs one ``Interval`` after the
start, then every ``Interval``; a probe is the ``Test`` command run as an exec in the
container (``CMD`` argv, or ``CMD-SHELL`` through ``/bin/sh -c``), killed after
``Timeout``; exit 0 is healthy, anything else a failure; ``Retries`` failures in a row
make the container unhealthy, but failures within ``StartPeriod`` of the start do not
count (it stays ``starting``).  The last 5 results are kept with their first 4096
bytes of output.  Each change of status is a ``health_status: <status>`` event.

The state lives in the container's directory (``health.json``, replaced atomically),
so every ``orlop`` process and orlopd read it without a daemon holding it.  The probe
loop is a child of the detached monitor (:func:`spawn_prober`) that dies with the
container; each probe is a process of its own (:func:`probe_main`) that runs the engine's
exec, so it goes through the exec machinery (its namespaces, user, cgroup and events)
like any other exec.  A probe whose command cannot start is dockerd's probe error, not
an exit status: ``ExitCode`` -1 and the exec start's error as ``Output`` (moby
daemon/health.go records ``err.Error()`` of ContainerExecStart), which the probe
process reports on a pipe of its own, apart from the command's output.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

from orlop.engine.timefmt import now_rfc3339

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.config import EngineConfig
    from orlop.engine.models import Container

NS = 1_000_000_000
DEFAULT_INTERVAL = 30 * NS
DEFAULT_TIMEOUT = 30 * NS
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
_FILE = "health.json"


def merge(container: dict[str, Any] | None, image: dict[str, Any] | None
          ) -> dict[str, Any] | None:
    """moby's merge of the container's Healthcheck over the image's: no healthcheck
    takes the image's; an empty Test or a zero field takes the image's value."""
    if not container:
        return dict(image) if image else None
    out = dict(container)
    if image:
        if not out.get("Test"):
            out["Test"] = image.get("Test")
        for key in ("Interval", "Timeout", "StartPeriod", "Retries"):
            if not out.get(key) and image.get(key):
                out[key] = image[key]
    return out


def from_api(value: object) -> dict[str, Any] | None:
    """``Config.Healthcheck`` of a create body, checked as dockerd does
    (daemon/container.go verifyContainerSettings), with its texts.

    Raises:
        InvalidParameterError: a value of the wrong type, or one dockerd refuses.
    """
    from orlop.errors import InvalidParameterError

    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameterError(
            "json: cannot unmarshal value into Go struct field Config.Healthcheck of type "
            "container.HealthConfig")
    test = value.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise InvalidParameterError("json: cannot unmarshal value into Go struct field "
                                    "HealthConfig.Healthcheck.Test of type []string")
    out: dict[str, Any] = {"Test": list(test)} if test else {}
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise InvalidParameterError(f"unknown healthcheck type {test[0]!r}: must be "
                                    "NONE, CMD or CMD-SHELL")
    for key, minimum in (("Interval", 1_000_000), ("Timeout", 1_000_000),
                         ("StartPeriod", 1_000_000), ("Retries", 0)):
        v = value.get(key, 0) or 0
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidParameterError(
                f"json: cannot unmarshal value into Go struct field "
                f"HealthConfig.Healthcheck.{key} of type "
                f"{'int' if key == 'Retries' else 'time.Duration'}")
        if key == "Retries":
            if v < 0:
                raise InvalidParameterError("Retries in Healthcheck cannot be negative")
        elif v < 0 or 0 < v < minimum:
            raise InvalidParameterError(
                f"{key} in Healthcheck cannot be less than 1ms")
        if v:
            out[key] = v
    start_interval = value.get("StartInterval") or 0
    if start_interval:  # API 1.44 (--health-start-interval): refused, never dropped
        from orlop.errors import UnsupportedError

        raise UnsupportedError(
            "Healthcheck.StartInterval is not supported by Orlop: probes run every "
            "Interval from the start, as dockerd 20.10's")
    return out


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": NS,
          "m": 60 * NS, "h": 3600 * NS}


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` (``1m30s``, ``500ms``, ``-2s``, ``0``), in ns.

    Raises:
        ValueError: with Go's text (``time: invalid duration "x"``).
    """
    import re

    bad = ValueError(f'time: invalid duration "{text}"')
    s = text
    sign = 1
    if s[:1] in ("-", "+"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0.0
    for m in re.finditer(r"(\d+(?:\.\d*)?|\.\d+)([a-zµμ]+)|(.)", s):
        if m.group(3) is not None or m.group(2) not in _UNITS:
            if m.group(3) is None:
                raise ValueError(f'time: unknown unit "{m.group(2)}" in duration "{text}"')
            raise bad
        total += float(m.group(1)) * _UNITS[m.group(2)]
    return sign * int(total)


def from_flags(cmd: str, interval: int, timeout: int, start_period: int, retries: int,
               disabled: bool) -> dict[str, Any] | None:
    """The docker CLI's Healthcheck from ``--health-*`` / ``--no-healthcheck``.

    Raises:
        InvalidParameterError: the docker CLI's texts.
    """
    from orlop.errors import InvalidParameterError

    have = bool(cmd) or bool(interval or timeout or start_period or retries)
    if disabled:
        if have:
            raise InvalidParameterError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not have:
        return None
    for name, v in (("interval", interval), ("timeout", timeout),
                    ("retries", retries), ("start-period", start_period)):
        if v < 0:
            raise InvalidParameterError(f"--health-{name} cannot be negative")
    out: dict[str, Any] = {"Test": ["CMD-SHELL", cmd]} if cmd else {}
    for key, v in (("Interval", interval), ("Timeout", timeout),
                   ("StartPeriod", start_period), ("Retries", retries)):
        if v:
            out[key] = v
    return out


def active(hc: dict[str, Any] | None) -> bool:
    """Whether ``hc`` asks for probes (not absent, not ``NONE``)."""
    test = (hc or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


def probe_argv(hc: dict[str, Any]) -> list[str]:
    test = list(hc.get("Test") or [])
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return test[1:]
    return test  # moby treats a Test without a kind as CMD


def read_state(config: EngineConfig, cid: str) -> dict[str, Any] | None:
    """``State.Health`` of ``cid``: None when it has no healthcheck state."""
    try:
        data = json.loads((config.containers_dir / cid / _FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(config: EngineConfig, cid: str, state: dict[str, Any]) -> None:
    cdir = config.containers_dir / cid
    if not cdir.is_dir():
        return  # removed meanwhile
    tmp = cdir / f"{_FILE}.tmp"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, cdir / _FILE)


def reset(config: EngineConfig, c: Container) -> None:
    """At each start: ``starting`` with an empty log (or no state without a check)."""
    if active(c.config.healthcheck):
        write_state(config, c.id, {"Status": "starting", "FailingStreak": 0, "Log": []})
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(config.containers_dir / c.id / _FILE)


def status_suffix(config: EngineConfig, c: Container) -> str:
    """`` (healthy)``, `` (unhealthy)``, `` (health: starting)`` for ``ps``."""
    if c.status != "running" or not active(c.config.healthcheck):
        return ""
    st = (read_state(config, c.id) or {}).get("Status") or "starting"
    return " (health: starting)" if st == "starting" else f" ({st})"


def health_status(config: EngineConfig, c: Container) -> str:
    """``ps --filter health=``: starting, healthy, unhealthy, or none."""
    if not active(c.config.healthcheck):
        return "none"
    if c.status not in ("running", "paused"):
        return "unhealthy" if c.status != "created" else "starting"
    return str((read_state(config, c.id) or {}).get("Status") or "starting")


# --- the prober ----------------------------------------------------------------------


def spawn_prober(config: EngineConfig, c: Container, pid: int) -> None:
    """Fork the probe loop for ``c`` (PID 1 ``pid``) from its monitor.  The child
    closes every descriptor of the monitor (above all the container's lock: a prober
    holding it would keep a stopped container "running") before it does anything."""
    if not active(c.config.healthcheck):
        return
    child = os.fork()
    if child:
        return
    try:
        os.closerange(3, 65536)
        from orlop.kernel.process import set_child_subreaper

        # A probe killed at its timeout leaves its process in the container orphaned:
        # adopted here (not by the monitor, which reaps nothing before PID 1 is gone,
        # while the kernel does not let PID 1 go before every process of its pid
        # namespace is reaped), killed and reaped after each probe.
        set_child_subreaper(True)
        probe_loop(config, c, pid)
    finally:
        _reap_strays()
        os._exit(0)


def _reap_strays() -> None:
    """Kill and reap every child left (a killed probe's processes, adopted by us as
    their parents die), until there is none (bounded: 5 s)."""
    import signal

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
                kids = [int(p) for p in f.read().split()]
        except OSError:
            kids = []
        for kid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kid, signal.SIGKILL)
        while True:
            try:
                got, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if got == 0:
                break
        time.sleep(0.02)


def _sleep_or_exit(pidfd: int, seconds: float) -> bool:
    """Wait ``seconds``; False as soon as the container's PID 1 ends."""
    import select

    ready, _, _ = select.select([pidfd], [], [], max(seconds, 0))
    return not ready


def probe_loop(config: EngineConfig, c: Container, pid: int) -> None:
    hc = c.config.healthcheck or {}
    interval = (hc.get("Interval") or DEFAULT_INTERVAL) / NS
    timeout = (hc.get("Timeout") or DEFAULT_TIMEOUT) / NS
    retries = int(hc.get("Retries") or DEFAULT_RETRIES)
    start_period = (hc.get("StartPeriod") or 0) / NS
    try:
        pidfd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return
    started = time.monotonic()
    argv = probe_argv(hc)
    while _sleep_or_exit(pidfd, interval):
        start = now_rfc3339()
        code, output = _probe(config, c.id, argv, timeout)
        if not _sleep_or_exit(pidfd, 0):
            return  # the container ended during the probe: its result means nothing
        state = read_state(config, c.id) or {"Status": "starting", "FailingStreak": 0,
                                             "Log": []}
        old = state.get("Status")
        log = list(state.get("Log") or [])
        log.append({"Start": start, "End": now_rfc3339(), "ExitCode": code,
                    "Output": output})
        state["Log"] = log[-MAX_LOG_ENTRIES:]
        if code == 0:
            state["Status"], state["FailingStreak"] = "healthy", 0
        elif time.monotonic() - started < start_period and old == "starting":
            pass  # failures in the start period do not count
        else:
            state["FailingStreak"] = int(state.get("FailingStreak") or 0) + 1
            if state["FailingStreak"] >= retries:
                state["Status"] = "unhealthy"
        write_state(config, c.id, state)
        if state["Status"] != old:
            _event(config, c, f"health_status: {state['Status']}")


# As the monitor's phases start (engine/containers/monitor.py): -I -S, this tree first,
# site-packages without their .pth code (~25 ms of every probe here).
_PROBE_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from orlop.launcher import add_site_paths; add_site_paths(); "
               "from orlop.engine.containers.health import probe_main; "
               "probe_main(sys.argv[2:])")


def _src_dir() -> str:
    """The directory this ``orlop`` package is in (what the probe puts first)."""
    import orlop

    return os.path.dirname(os.path.dirname(os.path.realpath(orlop.__file__)))


def _probe(config: EngineConfig, cid: str, argv: list[str], timeout: float
           ) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORLOP_HOST", "DOCKER_HOST", "ORLOP_ROOT", "ORLOP_RUN_ROOT")}
    r, w = os.pipe()
    try:
        cmd = [sys.executable, "-I", "-S", "-c", _PROBE_BOOT, _src_dir(), str(config.root),
               str(config.run_root), cid, str(w), *argv]
        import subprocess  # here: ~2 ms of every run's imports, for the probes alone

        try:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                 timeout=timeout, env=env, check=False, pass_fds=(w,))
        except subprocess.TimeoutExpired:
            _reap_strays()
            return -1, f"Health check exceeded timeout ({_go_duration(timeout)})"
        except OSError as err:
            return -1, str(err)
        os.close(w)
        w = -1
        os.set_blocking(r, False)
        try:
            error = os.read(r, MAX_OUTPUT)
        except BlockingIOError:
            error = b""
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    if error:  # the command never ran: what it may have printed is not its output
        return -1, error.decode(errors="replace")
    out = (res.stdout + res.stderr)[:MAX_OUTPUT].decode(errors="replace")
    return res.returncode, out


def probe_main(argv: list[str]) -> None:
    """``ROOT RUN_ROOT ID REPORT_FD COMMAND...``: one probe, the exec of ``COMMAND`` in
    the container with the probe's stdout and stderr; exits with its status.  An exec
    that cannot start (a missing command, a container no longer running) writes its
    error on ``REPORT_FD`` instead, which dockerd records as the probe's output
    with exit code -1 (not the 126 an `exec` reports)."""
    from orlop.config import EngineConfig
    from orlop.engine.containers.exec import ExecOptions, exec_container
    from orlop.engine.containers.procio import Stdio
    from orlop.engine.services import open_services
    from orlop.errors import OrlopError

    root, run_root, cid, report_s, *command = argv
    report = int(report_s)
    os.set_inheritable(report, False)  # the probe's command must not hold it
    engine = open_services(EngineConfig.from_env(root, run_root))
    code = 1
    try:
        code = exec_container(engine, cid, ExecOptions(command=command), Stdio(0, 1, 2))
    except OrlopError as err:
        with contextlib.suppress(OSError):
            os.write(report, (str(err) or type(err).__name__).encode()[:MAX_OUTPUT])
    finally:
        engine.close()
    sys.stdout.flush()
    os._exit(code)


def _go_duration(seconds: float) -> str:
    if seconds == int(seconds):
        s = int(seconds)
        return f"{s // 60}m{s % 60}s" if s >= 60 else f"{s}s"
    return f"{seconds:g}s"


def _event(config: EngineConfig, c: Container, action: str) -> None:
    from orlop.engine.events import EventLog

    events = EventLog(config.root)
    try:
        events.container(c, action)
    finally:
        events.close()
