"""What every command gets: the global options and a lazily built engine."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping


def _untranslated(message: str) -> str:
    return message


def _untranslated_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


# argparse passes each of its texts through gettext, which looks for a message catalogue
# (the locale module, several stats) the first time and on every call after: ~1 ms of a
# run's parser.  Orlop's texts are Docker's, in English whatever the locale (the docker
# CLI does not translate either), so argparse's stay untranslated too.
argparse._ = _untranslated  # type: ignore[attr-defined]
argparse.ngettext = _untranslated_plural  # type: ignore[attr-defined]

# Neither typing nor orlop.config (pathlib, urllib.parse, ipaddress) at import: `orlop
# --help` needs neither (~3 ms); mypy takes any TYPE_CHECKING name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from orlop.cli.backend import Backend, ContainerBackend, VolumeBackend
    from orlop.client import TLSOptions
    from orlop.config import EngineConfig
    from orlop.engine import Engine
    from orlop.engine.root import RootServices


class Context:
    """A plain class, not a dataclass: ``orlop --help`` must not import ``dataclasses``."""

    def __init__(self, config: EngineConfig, command: str, stdout: TextIO, stderr: TextIO,
                 host: str | None = None, host_source: str = "",
                 tls: TLSOptions | None = None) -> None:
        self.config = config
        # "run", "volume ls", ...: for messages such as "See 'orlop run --help'."
        self.command = command
        self.stdout = stdout
        self.stderr = stderr
        self.host = host  # -H/--host, $ORLOP_HOST, $DOCKER_HOST: through orlopd
        self.host_source = host_source  # "-H", "ORLOP_HOST" or "DOCKER_HOST" (checked before use)
        self.tls = tls
        self._engine: Engine | None = None
        self._backend: Backend | None = None
        self._root: RootServices | None = None  # the volume verbs' (volume_backend)
        self._volume_backend: VolumeBackend | None = None
        self._container_backend: ContainerBackend | None = None

    @property
    def remote(self) -> bool:
        return self.host is not None

    def engine(self) -> Engine:
        """The in-process engine, for what only a local CLI can do (``system service``);
        every other command goes through :meth:`backend`."""
        if self.host is not None:
            raise UsageError(f"'{self.command}' cannot be used with -H/--host")
        if self._engine is None:
            from orlop.engine import Engine

            self._engine = Engine(self.config)
        return self._engine

    def backend(self) -> Backend:
        """Local (the engine in this process) or remote (orlopd), as the user chose."""
        if self._backend is None:
            if self.host is not None:
                from orlop.cli.backend.remote import RemoteBackend

                if self.host_source == "DOCKER_HOST":
                    from orlop.cli.backend import check_docker_host

                    check_docker_host(self.host, self.tls)
                self._backend = RemoteBackend(self.host, self.tls)
            else:
                from orlop.cli.backend.local import LocalBackend

                self._backend = LocalBackend(self.engine())
        return self._backend

    def container_backend(self) -> ContainerBackend:
        """``exec``'s, ``run``'s and ``create``'s backend: remote as :meth:`backend`;
        in-process, the container calls alone over the engine (cli/backend/containers.py
        ``LocalContainerVerbs``), made once."""
        if self.host is not None or self._backend is not None:
            return self.backend()
        if self._container_backend is None:
            from orlop.cli.backend.containers import LocalContainerVerbs

            self._container_backend = LocalContainerVerbs(self.engine())
        return self._container_backend

    def volume_backend(self) -> VolumeBackend:
        """The backend of ``orlop volume create | inspect | ls | rm | prune | update |
        rename``: remote as :meth:`backend`; in-process, the volume service of the
        root's services (reconciled as the engine's are), without the engine facade or
        the other areas' calls, which those verbs never use (issue 17)."""
        if self.host is not None or self._backend is not None:
            return self.backend()
        if self._volume_backend is None:
            from orlop.cli.backend.volumes import LocalVolumeVerbs
            from orlop.engine.root import RootServices

            self._root = RootServices(self.config)
            self._volume_backend = LocalVolumeVerbs(self._root)
        return self._volume_backend

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        if self._root is not None:
            self._root.close()


class UsageError(Exception):
    """Wrong flags or arguments: printed with a hint to --help (Docker's wording)."""


class HelpRequested(Exception):  # noqa: N818 (a request, not an error)
    """``--help``/``-h`` among a command's options: main() prints the command's help
    (cli/help.py) from the registry and this parser's options, and exits 0."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__("help requested")
        self.parser = parser


class _HelpAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **_kw: object) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                         nargs=0, help="Print usage")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        raise HelpRequested(parser)


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (with zlib, bz2
    and lzma: ~1 ms of every command, argparse's formatter asks at the first
    add_argument): $COLUMNS when positive, else stdout's terminal, else 80."""
    import os
    import sys

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, its default width found by :func:`terminal_columns`."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns every exit code.

    Every command's parser answers ``--help`` and ``-h`` (unless the command gives
    ``-h`` another meaning, as ``run -h HOSTNAME``) by raising :class:`HelpRequested`
    where argparse meets it among the options: after a command's positional
    ``REMAINDER`` (``orlop run IMAGE ls --help``) it is the container's argument."""

    def __init__(self, *args: Any, docker_help: bool = True, **kw: Any) -> None:
        kw["add_help"] = False
        kw.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kw)
        if docker_help:
            self.add_argument("-h", "--help", action=_HelpAction)

    _checker: argparse.HelpFormatter | None = None  # add_argument's metavar check's

    def add_argument(self, *args: Any, **kw: Any) -> argparse.Action:
        taken = self._option_string_actions.get("-h")
        if "-h" in args and isinstance(taken, _HelpAction):
            del self._option_string_actions["-h"]  # -h is the command's own flag
            taken.option_strings = [o for o in taken.option_strings if o != "-h"]
        self._adding = True
        try:
            return super().add_argument(*args, **kw)
        finally:
            self._adding = False

    def _get_formatter(self) -> argparse.HelpFormatter:
        """argparse's add_argument makes a formatter to check each option's metavar (a
        terminal-size lookup each: 123 for ``run``'s parser, ~1 ms of every run); that
        check formats and keeps nothing, so one formatter serves all of them.  Help
        text gets a fresh one, as argparse gives it."""
        if getattr(self, "_adding", False):
            if self._checker is None:
                self._checker = super()._get_formatter()
            return self._checker
        return super()._get_formatter()

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def require_args(
    args: list[str], command: str, *, at_least: int = 0, at_most: int | None = None,
    exactly: int | None = None,
) -> None:
    """Docker's argument-count messages, e.g. '"orlop volume rm" requires at least 1 argument.'"""

    def plural(n: int) -> str:
        return "argument" if n == 1 else "arguments"

    if exactly is not None and len(args) != exactly:
        raise UsageError(f'"orlop {command}" requires exactly {exactly} {plural(exactly)}.')
    if len(args) < at_least:
        raise UsageError(f'"orlop {command}" requires at least {at_least} {plural(at_least)}.')
    if at_most is not None and len(args) > at_most:
        raise UsageError(f'"orlop {command}" requires at most {at_most} {plural(at_most)}.')


def dispatch(group: str, argv: list[str], sub: str,
             commands: Mapping[str, Callable[[list[str], Context], int]], ctx: Context) -> int:
    """Run the subcommand ``sub`` (``argv[0]`` with its alias resolved) of the command
    group ``group`` on the rest of ``argv``, ``ctx.command`` naming it for messages; an
    unknown one is Docker's usage error."""
    handler = commands.get(sub)
    if handler is None:
        ctx.command = group
        raise UsageError(f"'{group} {argv[0]}' is not an orlop command.")
    ctx.command = f"{group} {sub}"
    return handler(argv[1:], ctx)


def parse_no_args(p: Parser, argv: list[str], command: str) -> argparse.Namespace:
    """``p``'s options from ``argv`` for a command that takes no positional argument
    (``ls``, ``prune``): any is refused with Docker's text."""
    p.add_argument("extra", nargs="*")
    args = p.parse_args(argv)
    if args.extra:
        raise UsageError(f'"orlop {command}" accepts no arguments.')
    return args


def parse_with_args(p: Parser, argv: list[str], command: str, *, positional: str = "args",
                    at_least: int = 0, at_most: int | None = None,
                    exactly: int | None = None) -> argparse.Namespace:
    """``p``'s options from ``argv`` and the command's arguments, as the list
    ``args.<positional>``, their count checked by :func:`require_args`."""
    p.add_argument(positional, nargs="*")
    args = p.parse_args(argv)
    require_args(getattr(args, positional), command, at_least=at_least, at_most=at_most,
                 exactly=exactly)
    return args


def add_prune_flags(p: Parser, example: str, *, metavar: str | None = "filter") -> None:
    """The -f/--force and --filter of the prune commands; ``example`` the filters their
    help shows, ``metavar`` the value word of --filter in it."""
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], metavar=metavar,
                   help=f"Provide filter values (e.g. {example})")


def add_platform_variant_flag(p: Parser, verb: str) -> None:
    """``--platform`` of ``load`` and ``save`` (``verb``: "Load", "Save")."""
    p.add_argument("--platform", default="",
                   help=f"{verb} only the given platform variant. Formatted as "
                        "\"os[/arch[/variant]]\" (e.g., \"linux/amd64\")")


def for_each(refs: list[str], ctx: Context, action: Callable[[str], object], *,
             error_prefix: str = "Error: ", echo: bool = True) -> int:
    """Docker's verbs on several objects (rm, stop, update, ...): ``action`` on each in
    turn, its ref printed when done (``echo``), a failure reported and the others still
    done; exit status 1 when any failed.  ``error_prefix`` is "Error response from
    daemon: " for the verbs whose failures the docker CLI shows with it."""
    from orlop.errors import OrlopError

    failed = False
    for ref in refs:
        try:
            action(ref)
        except OrlopError as err:
            print(f"{error_prefix}{err}", file=ctx.stderr)
            failed = True
            continue
        if echo:
            print(ref, file=ctx.stdout)
    return 1 if failed else 0


def parse_filter_flags(items: list[str]) -> dict[str, list[str]]:
    """``--filter k=v`` flags as the API's filters map (values of one key accumulate)."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {item}")
        out.setdefault(key, []).append(value)
    return out


def write_archive(ctx: Context, output: str, write: Callable[[int], object]) -> int:
    """Docker's archive output for save/export/volume export: ``-o FILE`` written to a
    temporary name and renamed into place (never a half-written file under the asked
    name; a device or fifo is written into, never replaced), else stdout, which must not be a
    terminal."""
    import os

    if output:
        from orlop.errors import InvalidParameterError

        # The docker CLI's ValidateOutputPath texts, checked before any work is done.
        parent = os.path.dirname(os.path.abspath(output))
        if not os.path.exists(parent):
            raise InvalidParameterError(
                f'invalid output path: directory "{parent}" does not exist')
        if not os.path.isdir(parent):
            raise InvalidParameterError(f'invalid output path: "{parent}" must be a directory')
        if os.path.isdir(output):
            raise InvalidParameterError(f'invalid output path: "{output}" is a directory')
        import stat

        try:
            special = not stat.S_ISREG(os.stat(output).st_mode)
        except FileNotFoundError:
            special = False
        if special:
            # A device or fifo (``-o /dev/null``, a pipe): write into it; renaming a
            # file over it would replace the host's /dev/null with a regular file.
            try:
                fd = os.open(output, os.O_WRONLY | os.O_CLOEXEC)
            except OSError as err:
                raise InvalidParameterError(
                    f"open {output}: {(err.strerror or str(err)).lower()}") from None
            try:
                write(fd)
            finally:
                os.close(fd)
            return 0
        tmp = f"{output}.tmp-{os.getpid()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError as err:  # name the asked path, never our temporary one
            raise InvalidParameterError(
                f"open {output}: {(err.strerror or str(err)).lower()}") from None
        try:
            write(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        os.rename(tmp, output)
        return 0
    if os.isatty(ctx.stdout.fileno()):
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or "
                         "redirect")
    ctx.stdout.flush()
    write(ctx.stdout.fileno())
    return 0
