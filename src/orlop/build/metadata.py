"""The steps that change only the image's configuration: ENV, LABEL, ARG, CMD,
ENTRYPOINT, SHELL, EXPOSE, VOLUME, USER, STOPSIGNAL, ONBUILD, HEALTHCHECK, MAINTAINER.

Each makes a new image on the same layers (``empty_layer`` in its history) and no
container; the run config of its cache key carries Docker's ``#(nop)`` comment
(``/bin/sh -c #(nop)  ENV A=1``), which is also its history's ``created_by``.
"""

from __future__ import annotations

from typing import Any

from orlop.build.base import StageState, StepBase
from orlop.build.gotext import go_list, go_quote_list, healthcheck_text
from orlop.build.parser import Instruction
from orlop.build.words import process_word, process_words
from orlop.errors import InvalidParameterError


class MetadataSteps(StepBase):
    def _do_env(self, state: StageState, ins: Instruction) -> None:
        env = list(state.config.get("Env") or [])
        # Every word is expanded with the environment before the instruction (moby).
        words = [self._word(state, a) for a in ins.args]
        pairs = []
        for key, value in zip(words[0::2], words[1::2], strict=False):
            pairs.append(f"{key}={value}")
            for j, item in enumerate(env):
                if item.partition("=")[0] == key:
                    env[j] = f"{key}={value}"
                    break
            else:
                env.append(f"{key}={value}")
        state.config["Env"] = env
        self._commit_meta(state, "ENV " + " ".join(pairs))

    def _do_label(self, state: StageState, ins: Instruction) -> None:
        labels = dict(state.config.get("Labels") or {})
        pairs = []
        for i in range(0, len(ins.args) - 1, 2):
            key = self._word(state, ins.args[i])
            value = self._word(state, ins.args[i + 1])
            labels[key] = value
            pairs.append(f"{key}={value}")
        state.config["Labels"] = labels
        self._commit_meta(state, "LABEL " + " ".join(pairs))

    def _do_maintainer(self, state: StageState, ins: Instruction) -> None:
        state.author = " ".join(ins.args)
        self._commit_meta(state, "MAINTAINER " + state.author)

    def _arg_pairs(self, ins: Instruction, env: dict[str, str]
                   ) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for arg in ins.args:
            name, eq, value = arg.partition("=")
            out.append((name, process_word(value, env, self.escape) if eq else None))
        return out

    def _do_arg(self, state: StageState, ins: Instruction) -> None:
        comments = []
        for name, default in self._arg_pairs(ins, self._env(state)):
            value = self.opts.build_args[name] if name in self.opts.build_args \
                and self.opts.build_args[name] is not None else default
            state.args[name] = value
            self.used_args.add(name)
            comments.append(f"{name}={default}" if default is not None else name)
        self._commit_meta(state, "ARG " + " ".join(comments))

    def _do_cmd(self, state: StageState, ins: Instruction) -> None:
        state.config["Cmd"] = self._exec_or_shell(state, ins)
        state.cmd_set = True
        self._commit_meta(state, f"CMD {go_quote_list(state.config['Cmd'])}")

    def _do_entrypoint(self, state: StageState, ins: Instruction) -> None:
        value = self._exec_or_shell(state, ins)
        state.config["Entrypoint"] = value if (ins.json or (ins.args and ins.args[0])) \
            else None
        if not state.cmd_set:
            state.config["Cmd"] = None
        self._commit_meta(state, f"ENTRYPOINT {go_quote_list(state.config['Entrypoint'])}")

    def _do_shell(self, state: StageState, ins: Instruction) -> None:
        if not ins.json:
            raise InvalidParameterError("SHELL requires the arguments to be in JSON form")
        state.config["Shell"] = list(ins.args)
        self._commit_meta(state, f"SHELL {go_list(ins.args)}")

    def _do_expose(self, state: StageState, ins: Instruction) -> None:
        ports = dict(state.config.get("ExposedPorts") or {})
        words = []  # moby's comment: the expanded words as written
        for raw in ins.args:
            for word in process_words(raw, self._env(state), self.escape):
                words.append(word)
                port, _, proto = word.partition("/")
                proto = (proto or "tcp").lower()
                lo, _, hi = port.partition("-")
                if not lo.isdigit() or (hi and not hi.isdigit()):
                    raise InvalidParameterError(f"Invalid containerPort: {port}")
                for p in range(int(lo), int(hi or lo) + 1):
                    ports[f"{p}/{proto}"] = {}
        state.config["ExposedPorts"] = ports
        self._commit_meta(state, "EXPOSE " + " ".join(words))

    def _do_volume(self, state: StageState, ins: Instruction) -> None:
        volumes = dict(state.config.get("Volumes") or {})
        paths = []
        for raw in ins.args:
            words = [self._word(state, raw)] if ins.json else \
                process_words(raw, self._env(state), self.escape)
            for v in words:
                if not v.strip():
                    raise InvalidParameterError("VOLUME specified can not be an empty string")
                volumes[v] = {}
                paths.append(v)
        state.config["Volumes"] = volumes
        self._commit_meta(state, f"VOLUME {go_list(paths)}")

    def _do_user(self, state: StageState, ins: Instruction) -> None:
        state.config["User"] = self._word(state, ins.args[0] if ins.args else "")
        self._commit_meta(state, f"USER {state.config['User']}")

    def _do_stopsignal(self, state: StageState, ins: Instruction) -> None:
        sig = self._word(state, ins.args[0] if ins.args else "")
        from orlop.engine.containers.lifecycle import parse_signal

        parse_signal(sig)
        state.config["StopSignal"] = sig
        self._commit_meta(state, f"STOPSIGNAL {sig}")

    def _do_onbuild(self, state: StageState, ins: Instruction) -> None:
        trigger = ins.original.split(None, 1)[1].strip() if " " in ins.original.strip() \
            else ""
        state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), trigger]
        self._commit_meta(state, f"ONBUILD {trigger}")

    def _do_healthcheck(self, state: StageState, ins: Instruction) -> None:
        from orlop.engine.containers.health import parse_go_duration

        kind = ins.args[0].upper() if ins.args else ""
        if kind == "NONE":
            if len(ins.args) > 1 or ins.flags:
                raise InvalidParameterError("HEALTHCHECK NONE takes no arguments")
            hc: dict[str, Any] = {"Test": ["NONE"]}
        elif kind == "CMD":
            rest = list(ins.args[1:])
            test = ["CMD", *rest] if ins.json else ["CMD-SHELL", rest[0] if rest else ""]
            hc = {"Test": test}
            for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                              ("start-period", "StartPeriod"),
                              ("start-interval", "StartInterval")):
                value = ins.flag(flag)
                if value:
                    hc[key] = parse_go_duration(value)
            retries = ins.flag("retries")
            if retries:
                if not retries.isdigit() or int(retries) < 1:
                    raise InvalidParameterError("--retries must be at least 1")
                hc["Retries"] = int(retries)
        else:
            raise InvalidParameterError(f"Unknown type {kind!r} in HEALTHCHECK "
                                        "(try CMD)")
        state.config["Healthcheck"] = hc
        self._commit_meta(state, f"HEALTHCHECK {healthcheck_text(hc)}")
