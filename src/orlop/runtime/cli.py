"""``orlop-runtime``: runc's verbs over the built-in runtime.

    orlop-runtime [--root DIR] create ID [--bundle DIR] [--pid-file F]
    orlop-runtime [--root DIR] start ID
    orlop-runtime [--root DIR] state ID
    orlop-runtime [--root DIR] kill ID [SIGNAL]
    orlop-runtime [--root DIR] delete [--force] ID
    orlop-runtime [--root DIR] run ID [--bundle DIR] [--pid-file F]

``create`` parks the init on <root>/<id>/exec.fifo, ``start`` releases it; ``run``
does both and waits in the foreground, exiting with the container's status (128+N
for a signal), and the container dies if ``run`` is killed.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from orlop.errors import ConflictError, InvalidParameterError, OrlopError, RuntimeFailedError
from orlop.runtime.launcher import launch
from orlop.runtime.spec import Spec
from orlop.runtime.state import DEFAULT_ROOT, ContainerState, StateStore, process_start_time

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)


def parse_signal(text: str) -> int:
    """"9", "KILL" and "SIGKILL" all name SIGKILL."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidParameterError(f"unknown signal {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orlop-runtime", description="Orlop's OCI runtime")
    p.add_argument("--root", default=DEFAULT_ROOT, help="state directory")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("create", "run"):
        c = sub.add_parser(name)
        c.add_argument("id")
        c.add_argument("--bundle", "-b", default=".")
        c.add_argument("--pid-file")
    sub.add_parser("start").add_argument("id")
    sub.add_parser("state").add_argument("id")
    k = sub.add_parser("kill")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete")
    d.add_argument("--force", "-f", action="store_true")
    d.add_argument("id")
    return p


def _record(store: StateStore, container_id: str, bundle: Path, spec: Spec, pid: int,
            pid_file: str | None) -> ContainerState:
    st = ContainerState(id=container_id, pid=pid, bundle=str(bundle),
                        start_time=process_start_time(pid) or 0,
                        annotations=dict(spec.annotations),
                        directory=store.directory(container_id))
    st.save()
    if pid_file:
        Path(pid_file).write_text(f"{pid}")
    return st


def cmd_create(store: StateStore, args: argparse.Namespace) -> int:
    bundle = Path(args.bundle).absolute()
    spec = Spec.load(bundle / "config.json")
    directory = store.reserve(args.id)
    try:
        fifo = directory / "exec.fifo"
        os.mkfifo(fifo, 0o600)
        launched = launch(bundle, spec, stdin=0, stdout=1, stderr=2, wait_for_start=True,
                          exec_fifo=fifo, die_with_parent=False,
                          seccomp_cache=store.seccomp_cache)
        _record(store, args.id, bundle, spec, launched.pid, args.pid_file)
    except BaseException:
        store.remove(args.id)
        raise
    return 0


def cmd_start(store: StateStore, args: argparse.Namespace) -> int:
    st = store.load(args.id)
    status = st.status()
    if status != "created":
        raise ConflictError(f"cannot start a container that is {status}: {args.id}")
    try:
        fd = os.open(st.fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno in (errno.ENXIO, errno.ENOENT):  # no reader: the init is gone
            raise ConflictError(f"container is not waiting to start: {args.id}") from None
        raise
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
    os.unlink(st.fifo)
    return 0


def cmd_state(store: StateStore, args: argparse.Namespace) -> int:
    print(json.dumps(store.load(args.id).to_oci(), indent=2))
    return 0


def _signal(st: ContainerState, signum: int) -> None:
    """Signal through a pidfd opened after checking the start time: no pid-reuse race."""
    if not st.alive():
        raise ConflictError(f"container not running: {st.id}")
    pidfd = os.pidfd_open(st.pid)
    try:
        if not st.alive():
            raise ConflictError(f"container not running: {st.id}")
        signal.pidfd_send_signal(pidfd, signum)
    finally:
        os.close(pidfd)


def cmd_kill(store: StateStore, args: argparse.Namespace) -> int:
    _signal(store.load(args.id), parse_signal(args.signal))
    return 0


def cmd_delete(store: StateStore, args: argparse.Namespace) -> int:
    st = store.load(args.id)
    status = st.status()
    if status == "running" and not args.force:
        raise ConflictError(f"cannot delete container {args.id} that is not stopped: "
                            "running (use --force)")
    if status != "stopped":
        try:
            pidfd = os.pidfd_open(st.pid)
        except ProcessLookupError:
            pidfd = -1
        if pidfd >= 0:
            try:
                if st.alive():
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                    select.select([pidfd], [], [], 10.0)
            finally:
                os.close(pidfd)
    store.remove(args.id)
    return 0


def cmd_run(store: StateStore, args: argparse.Namespace) -> int:
    bundle = Path(args.bundle).absolute()
    spec = Spec.load(bundle / "config.json")
    store.reserve(args.id)
    try:
        launched = launch(bundle, spec, stdin=0, stdout=1, stderr=2,
                          seccomp_cache=store.seccomp_cache)
        _record(store, args.id, bundle, spec, launched.pid, args.pid_file)
        pid = launched.pid

        def forward(signum: int, _frame: object) -> None:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, forward)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        return 128 - code if code < 0 else code
    finally:
        store.remove(args.id)


COMMANDS = {"create": cmd_create, "start": cmd_start, "state": cmd_state, "kill": cmd_kill,
            "delete": cmd_delete, "run": cmd_run}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    store = StateStore(args.root)
    try:
        return COMMANDS[args.command](store, args)
    except RuntimeFailedError as err:
        print(f"orlop-runtime: {err}", file=sys.stderr)
        return err.exit_code
    except (OrlopError, OSError, ValueError) as err:
        print(f"orlop-runtime: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
