"""`orlop pull`, `push`, `login`, `logout`: Docker's flags, output and texts.

Credentials live in the docker CLI's ``config.json`` on the client side (as the docker
CLI keeps them), whether the engine is in-process or orlopd.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from orlop.cli.context import Context, Parser, UsageError, parse_with_args

if TYPE_CHECKING:
    import argparse

    from orlop.cli.backend import Backend

# With -H: pull/push/login go through orlopd (/images/create, /images/{name}/push, /auth);
# credentials stay in this CLI's config.json, sent as X-Registry-Auth.
REMOTE = frozenset({"pull", "push", "login", "logout"})

_UNENCRYPTED = """WARNING! Your password will be stored unencrypted in {path}.
Configure a credential helper to remove this warning. See
https://docs.docker.com/engine/reference/commandline/login/#credentials-store
"""


def main(name: str, argv: list[str], ctx: Context) -> int:
    return {"pull": _pull, "push": _push, "login": _login, "logout": _logout}[name](argv, ctx)


def _trust_flag(p: Parser, help_text: str) -> None:
    # Content trust (Notary) is off by default in Docker too; =false is what it means.
    p.add_argument("--disable-content-trust", nargs="?", const="true", default="true",
                   metavar="", help=help_text)


def _check_trust(value: str) -> None:
    if value.lower() not in ("true", "1"):
        raise UsageError("content trust (--disable-content-trust=false) is not supported")


def pull_with_progress(backend: Backend, ref: str, platform: str, out: Any,
                       quiet: bool = False) -> dict[str, Any]:
    """Pull and render Docker's progress on ``out`` (run/create use stderr)."""
    from orlop.cli.progress import for_stream
    from orlop.distribution.progress import Silent

    progress = Silent() if quiet else for_stream(out)
    return backend.image_pull(ref, platform, progress)


def _parse_one_image(p: Parser, argv: list[str], verb: str, all_tags_help: str,
                     trust_help: str) -> argparse.Namespace:
    """The flags and the one IMAGE of pull and push; ``--all-tags`` is refused (Orlop
    moves one tag at a time), a content-trust request too (:func:`_check_trust`)."""
    p.add_argument("-a", "--all-tags", action="store_true", help=all_tags_help)
    _trust_flag(p, trust_help)
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    args = parse_with_args(p, argv, verb, exactly=1)
    _check_trust(args.disable_content_trust)
    if args.all_tags:
        raise UsageError(f"--all-tags is not supported by Orlop: {verb} each tag by name")
    return args


def _pull(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop pull", add_help=False)
    p.add_argument("--platform", default=os.environ.get("DOCKER_DEFAULT_PLATFORM", ""),
                   help="Set platform if server is multi-platform capable")
    args = _parse_one_image(p, argv, "pull", "Download all tagged images in the repository",
                            "Skip image verification")
    result = pull_with_progress(ctx.backend(), args.args[0], args.platform, ctx.stdout,
                                args.quiet)
    print(result["Name"], file=ctx.stdout)
    return 0


def _push(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop push", add_help=False)
    args = _parse_one_image(p, argv, "push", "Push all tags of an image to the repository",
                            "Skip image signing")
    from orlop.cli.progress import for_stream
    from orlop.distribution.progress import Silent

    progress = Silent() if args.quiet else for_stream(ctx.stdout)
    ctx.backend().image_push(args.args[0], progress)
    if args.quiet:
        from orlop.distribution.reference import parse_remote

        ref = parse_remote(args.args[0]).with_tag_default()
        print(f"{ref.full_name}:{ref.tag}", file=ctx.stdout)
    return 0


def _login(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop login", add_help=False)
    p.add_argument("-p", "--password", default="", help="Password")
    p.add_argument("--password-stdin", action="store_true",
                   help="Take the password from stdin")
    p.add_argument("-u", "--username", default="", help="Username")
    args = parse_with_args(p, argv, "login", at_most=1)
    from orlop.distribution import credentials
    from orlop.distribution.reference import registry_key

    server = args.args[0] if args.args else ""
    key = registry_key(server)
    user, password = args.username.strip(), args.password
    if args.password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=ctx.stderr)
        if args.password_stdin:
            raise UsageError("--password and --password-stdin are mutually exclusive")
    if args.password_stdin:
        if not user:
            raise UsageError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    backend = ctx.backend()
    if not user and not password:
        stored = credentials.get(key)
        if not stored.empty and stored.username:
            try:
                backend.registry_login(server, stored.username, stored.password)
            except Exception:
                pass
            else:
                print("Authenticating with existing credentials...", file=ctx.stdout)
                print("Login Succeeded", file=ctx.stdout)
                return 0
    if not user or not password:
        if not os.isatty(sys.stdin.fileno()):
            from orlop.errors import InvalidParameterError

            raise InvalidParameterError(
                "Cannot perform an interactive login from a non TTY device")
        if not user:
            ctx.stdout.write("Username: ")
            ctx.stdout.flush()
            user = sys.stdin.readline().strip()
        if not password:
            import getpass

            password = getpass.getpass("Password: ")
    if not user:
        raise UsageError("Username cannot be empty")
    if not password:
        raise UsageError("Password Required")
    backend.registry_login(server, user, password)
    path = credentials.config_path()
    credentials.store(key, credentials.Credentials(user, password), path)
    if not _uses_helper(path, key):
        print(_UNENCRYPTED.format(path=path), file=ctx.stderr)
    print("Login Succeeded", file=ctx.stdout)
    return 0


def _uses_helper(path: Any, key: str) -> bool:
    import json

    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return False
    return bool(doc.get("credsStore") or (doc.get("credHelpers") or {}).get(key))


def _logout(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop logout", add_help=False)
    args = parse_with_args(p, argv, "logout", at_most=1)
    from orlop.distribution import credentials
    from orlop.distribution.reference import registry_key

    key = registry_key(args.args[0] if args.args else "")
    if not credentials.erase(key):
        print(f"Not logged in to {key}", file=ctx.stdout)
        return 0
    print(f"Removing login credentials for {key}", file=ctx.stdout)
    return 0
