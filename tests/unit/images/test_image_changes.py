"""`import -c` / `commit -c`: Dockerfile instructions applied to a container config."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidParameterError
from orlop.images.changes import apply_changes, empty_container_config


def apply(*changes: str) -> dict[str, object]:
    return apply_changes(empty_container_config(), changes)


def test_changes_cmd_json_and_shell_forms() -> None:
    assert apply('CMD ["sh", "-c", "echo hi"]')["Cmd"] == ["sh", "-c", "echo hi"]
    assert apply("CMD echo hi")["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert apply("cmd [not json")["Cmd"] == ["/bin/sh", "-c", "[not json"]


def test_changes_entrypoint_resets_inherited_cmd_unless_given() -> None:
    base = {**empty_container_config(), "Cmd": ["old"]}
    assert apply_changes(base, ['ENTRYPOINT ["/bin/app"]'])["Cmd"] is None
    out = apply_changes(base, ['CMD ["x"]', "ENTRYPOINT /bin/app"])
    assert out["Cmd"] == ["x"]
    assert out["Entrypoint"] == ["/bin/sh", "-c", "/bin/app"]


def test_changes_env_both_forms_and_override() -> None:
    out = apply("ENV A=1 B=\"two words\"", "ENV C three words", "ENV A=9")
    # in place, as dockerd 20.10: `import --change 'ENV A=1 B=2' --change 'ENV A=3'`
    # inspects as ["A=3","B=2"]
    assert out["Env"] == ["A=9", "B=two words", "C=three words"]


def test_changes_env_word_without_equals_refused() -> None:
    with pytest.raises(InvalidParameterError, match="can't find ="):
        apply("ENV A=1 B")


def test_changes_volume_workdir_user_label_expose_stopsignal() -> None:
    out = apply("VOLUME /a /b", 'VOLUME ["/c"]', "WORKDIR /srv", "WORKDIR app", "USER 1000:1000",
                "LABEL a=b c=\"d e\"", "EXPOSE 80 53/udp 8000-8001", "STOPSIGNAL SIGTERM")
    assert out["Volumes"] == {"/a": {}, "/b": {}, "/c": {}}
    assert out["WorkingDir"] == "/srv/app"
    assert out["User"] == "1000:1000"
    assert out["Labels"] == {"a": "b", "c": "d e"}
    assert out["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
    assert out["StopSignal"] == "SIGTERM"
    keys = list(out)
    assert keys.index("ExposedPorts") == keys.index("AttachStderr") + 1


def test_changes_unknown_or_build_instruction_refused_with_docker_text() -> None:
    with pytest.raises(InvalidParameterError, match=r"^run is not a valid change command$"):
        apply("RUN echo hi")
    with pytest.raises(InvalidParameterError, match=r"^foo is not a valid change command$"):
        apply("FOO bar")


def test_changes_bad_signal_and_port_refused() -> None:
    with pytest.raises(InvalidParameterError, match="Invalid signal: SIGNOPE"):
        apply("STOPSIGNAL SIGNOPE")
    with pytest.raises(InvalidParameterError, match="Invalid containerPort"):
        apply("EXPOSE 70000")


def test_changes_input_config_not_mutated() -> None:
    base = empty_container_config()
    apply_changes(base, ["ENV A=1"])
    assert base["Env"] is None
