"""Every command and group answers ``--help`` and ``-h`` with exit 0, in Docker's layout,
without touching any state: a Usage line, the description, every option described."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from orlop.cli.main import main
from orlop.cli.registry import INDEX, REGISTRY, members, top_level

# Commands for which -h means something else, as in Docker (run/create: --hostname).
_H_TAKEN = {"run", "create", "container run", "container create"}
# (a value word may have a hyphen: the docker CLI's "--gpus gpu-request")
_OPTION = re.compile(r"^  (-\w, |    )--[\w-]+( [\w-]+)?( {3,}|$)")


def _help(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> str:
    root, run = tmp_path / "root", tmp_path / "run"
    code = main(["--root", str(root), "--run-root", str(run), *argv])
    out, err = capsys.readouterr()
    assert code == 0, (argv, out, err)
    assert err == "", (argv, err)
    assert not root.exists() or not any(root.iterdir()), f"{argv} wrote state"
    return out


def _check_options(argv: tuple[str, ...], out: str) -> None:
    if "\nOptions:\n" not in out:
        return
    block = out.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    for line in block.splitlines():
        if line.startswith(("  -", "      --")):
            m = _OPTION.match(line)
            assert m, (argv, line)
            assert line[m.end():].strip(), f"{argv}: option without a description: {line!r}"


@pytest.mark.parametrize("name", sorted(INDEX))
def test_every_command_answers_help_and_h(name: str, capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    words = tuple(name.split())
    flags = ["--help"] if name in _H_TAKEN else ["--help", "-h"]
    for flag in flags:
        out = _help(capsys, tmp_path, *words, flag)
        cmd = INDEX[name]
        shown = name if " " not in name else cmd.name
        first = out.splitlines()[0]
        assert first.startswith(f"Usage:  orlop {shown}"), (words, flag, first)
        assert (cmd.long or cmd.summary) in out
        if cmd.group:
            for sub in members(cmd.name):
                assert f"\n  {sub.name.split()[1]:<11} {sub.summary}\n" in out
        else:
            if len(cmd.names) > 1:
                assert "Aliases:\n  " + ", ".join(f"orlop {n}" for n in cmd.names) in out
            _check_options((*words, flag), out)


def test_groups_without_a_command_print_their_help(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    for name, cmd in top_level().items():
        if cmd.group:
            assert _help(capsys, tmp_path, name).startswith(f"Usage:  orlop {name} COMMAND")


def test_top_level_help_groups_commands_as_docker(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    for argv in ((), ("--help",), ("-h",)):
        out = _help(capsys, tmp_path, *argv)
        assert out.startswith("Usage:  orlop [OPTIONS] COMMAND\n")
        sections = re.findall(r"\n\n([A-Z][\w ]+):\n", out)
        assert sections == ["Common Commands", "Management Commands", "Commands",
                            "Global Options"], sections
        common = out.split("Common Commands:\n", 1)[1].split("\n\n")[0].split("\n")
        assert [line.split()[0] for line in common] == [
            "run", "exec", "ps", "build", "pull", "push", "images", "login", "logout",
            "version", "info"]
        management = out.split("Management Commands:\n", 1)[1].split("\n\n")[0]
        assert [line.split()[0] for line in management.split("\n")] == [
            "builder", "container", "image", "network", "plugin", "system", "volume"]
        listed = {line.split()[0] for line in out.split("\nCommands:\n", 1)[1]
                  .split("\n\n")[0].split("\n")}
        groups = {"builder", "container", "image", "network", "plugin", "system", "volume"}
        assert listed | {line.split()[0] for line in common} | groups == set(top_level())


def test_help_is_docker_layout_for_ps(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    out = _help(capsys, tmp_path, "ps", "--help")
    assert out.startswith("Usage:  orlop ps [OPTIONS]\n\nList containers\n\nAliases:\n"
                          "  orlop container ls, orlop container list, orlop container ps, "
                          "orlop ps\n\nOptions:\n  -a, --all             Show all containers "
                          "(default shows just running)\n")
    assert "  -n, --last int        Show n last created containers (includes all\n" in out
    assert _help(capsys, tmp_path, "container", "list", "-h").startswith(
        "Usage:  orlop container ls [OPTIONS]\n")


def test_help_after_a_command_argument_is_the_containers(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    """``orlop run IMAGE ls --help``: --help belongs to the container's command (Docker
    stops parsing its flags at the image), so it is no help request."""
    code = main(["--root", str(tmp_path / "r"), "--run-root", str(tmp_path / "rr"), "run",
                 "--pull", "never", "nosuchimage", "ls", "--help"])
    out, err = capsys.readouterr()
    assert code == 125 and "Usage:" not in out, (out, err)


def test_registry_names_are_consistent() -> None:
    for name, cmd in REGISTRY.items():
        assert name == cmd.name
        for n in cmd.names:
            assert INDEX[n] is cmd
            group = n.split(" ", 1)[0] if " " in n else None
            assert group is None or INDEX[group].group, n


def test_help_does_not_load_the_engine() -> None:
    code = ("import sys; from orlop.cli.main import main; main(['ps', '--help']); "
            "main(['container', '--help']); main(['volume', 'ls', '-h']); "
            "bad = [m for m in sys.modules if m.startswith(('orlop.runtime', 'orlop.engine', "
            "'orlop.kernel', 'sqlite3', 'orlop.client.transport', 'ssl', 'aiohttp'))]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("[]"), out[-400:]
