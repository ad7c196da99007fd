"""The classic builder (``DOCKER_BUILDKIT=0 docker build``): one image per step.

Each instruction of the targeted stages makes one image whose ``parent`` is the image
of the step before and whose ``container_config`` is the run config the step was made
with, exactly as moby's ``builder/dockerfile`` does, because that pair is the cache key:
a step hits the cache when an image with the same parent and an equal run config
exists (moby's ``ImageCache.GetCache``; for COPY/ADD the run config's command names a
hash of the source files, so changed content misses).  The step images are the cache;
they are untagged, and only the final image gets the ``-t`` names.

Step kinds:

* metadata (ENV, LABEL, CMD, ENTRYPOINT, EXPOSE, VOLUME, USER, ARG, ...): a new image
  config on the same layers (``empty_layer`` in its history), no container;
* COPY, ADD, WORKDIR: a layer written through a scratch overlay (build/fs.py);
* RUN: an ordinary Orlop container from the current step's image, started in the
  foreground with its output streamed, its upper directory committed without the
  content of its volumes (so a ``RUN`` writing under a ``VOLUME`` path does not change
  the image: the classic builder's rule), then removed with its anonymous volumes,
  also when it failed.

Output is Docker's stream, line for line (``Step 2/5 : RUN ...``, `` ---> Running in``,
`` ---> Using cache``, ``Successfully built``), sent as the API's JSON messages through
``emit``; orlopd writes them to the response, the CLI renders them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orlop.build.context import BuildContext, checksum
from orlop.build.fs import CopyOp, Ownership
from orlop.build.layer import Fallback, ImageView, write_from_image, write_ops
from orlop.build.options import BuildOptions, Emit
from orlop.build.parser import Instruction, Stage, parse, parse_instructions
from orlop.build.words import env_map, process_word, process_words
from orlop.errors import (
    BuildStepError,
    ImageNotFoundError,
    InvalidParameterError,
    UnsupportedError,
)

if TYPE_CHECKING:
    from orlop.engine.engine import Engine
    from orlop.images.store import Image

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
HOST_ARCH = _ARCH.get(platform.machine(), platform.machine())
DEFAULT_SHELL = ["/bin/sh", "-c"]
# Docker's predefined ARGs: usable without an ARG line, never in the cache key or history.
PROXY_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                        "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                        "all_proxy"})
# The run config fields moby's cache compares (image/cache/compare.go, plus those a step
# sets), in a fixed order.
_KEY_FIELDS = ("Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts", "Volumes", "User",
               "WorkingDir", "OnBuild", "Shell", "Healthcheck", "StopSignal")


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def cache_key(parent: str, run_config: dict[str, Any]) -> str:
    sub = {k: run_config.get(k) or None for k in _KEY_FIELDS}
    return parent + "\n" + json.dumps(sub, sort_keys=True)


@dataclass
class _State:
    """The image being built in one stage, step by step."""

    image_id: str  # "" before the first step of FROM scratch
    diff_ids: list[str]
    config: dict[str, Any]  # the image's ``config`` block
    history: list[dict[str, Any]]
    arch: str = HOST_ARCH
    os_name: str = "linux"
    author: str = ""
    args: dict[str, str | None] = field(default_factory=dict)  # declared in the stage
    cmd_set: bool = False


class Builder:
    def __init__(self, engine: Engine, context: BuildContext, opts: BuildOptions,
                 emit: Emit) -> None:
        self.engine = engine
        self.ctx = context
        self.opts = opts
        self._emit = emit
        self.cache: dict[str, str] = {}  # cache_key -> image id
        self.stage_images: dict[str, str] = {}  # name or index -> image id
        self.used_args: set[str] = set()
        self.escape = "\\"

    # --- output -------------------------------------------------------------------

    def out(self, text: str) -> None:
        if not self.opts.quiet:
            self._emit({"stream": text})

    # --- the build ----------------------------------------------------------------

    def run(self) -> str:
        from orlop.build.fs import sweep_scratch

        df = parse(self.ctx.dockerfile)
        sweep_scratch(self.engine.config.tmp_dir)
        self.escape = df.escape
        stages = list(df.stages)
        if self.opts.target:
            idx = next((s.index for s in stages if s.name == self.opts.target.lower()), None)
            if idx is None:
                raise InvalidParameterError(
                    f"failed to reach build target {self.opts.target} in Dockerfile")
            stages = stages[:idx + 1]
        if self.opts.labels:
            text = "LABEL " + " ".join(f'"{k}"=\'{v}\'' for k, v in
                                       sorted(self.opts.labels.items()))
            stages[-1].instructions.append(parse_instructions(text)[0])
        if self.opts.platform:
            self._check_platform(self.opts.platform)
        if not self.opts.no_cache:
            self._load_cache()
        total = len(df.meta_args) + sum(1 + len(s.instructions) for s in stages)
        step = 0
        meta: dict[str, str | None] = {}
        for ins in df.meta_args:
            step += 1
            self.out(f"Step {step}/{total} : {ins.original}\n")
            for name, value in self._arg_pairs(ins, {k: v or "" for k, v in meta.items()
                                                     if v is not None}):
                meta[name] = self.opts.build_args.get(name, value) \
                    if name in self.opts.build_args else value
                self.used_args.add(name)
        final = ""
        for stage in stages:
            step += 1
            self.out(f"Step {step}/{total} : {stage.from_instruction.original}\n")
            state = self._from(stage, meta)
            for ins in stage.instructions:
                step += 1
                self.out(f"Step {step}/{total} : {ins.original}\n")
                self._dispatch(state, ins)
            final = state.image_id
            if not final:
                raise InvalidParameterError("No image was generated. Is your Dockerfile "
                                            "empty?")
            self.stage_images[str(stage.index)] = final
            if stage.name:
                self.stage_images[stage.name] = final
        unused = sorted(set(self.opts.build_args) - self.used_args - PROXY_ARGS)
        if unused:
            self.out(f"[Warning] One or more build-args [{' '.join(unused)}] were not "
                     "consumed\n")
        self._emit({"aux": {"ID": final}})
        if self.opts.quiet:
            self._emit({"stream": final + "\n"})
        else:
            self.out(f"Successfully built {_short(final)}\n")
        for tag in self.opts.tags:
            self.engine.images.tag(final, tag)
            if not self.opts.quiet:
                from orlop.images.reference import parse_tag_target

                self.out(f"Successfully tagged {_familiar(parse_tag_target(tag).tagged)}\n")
        return final

    # --- cache --------------------------------------------------------------------

    def _load_cache(self) -> None:
        for img in self.engine.images.list():
            cc = img.config.get("container_config")
            if isinstance(cc, dict):
                self.cache.setdefault(cache_key(img.config.get("parent") or "", cc), img.id)

    def _probe(self, state: _State, run_config: dict[str, Any]) -> bool:
        """A cache hit moves the state to the cached image (Docker's `Using cache`)."""
        if self.opts.no_cache:
            return False
        hit = self.cache.get(cache_key(state.image_id, run_config))
        if hit is None:
            return False
        try:
            img = self.engine.images.get(hit)
        except ImageNotFoundError:
            return False
        if not all(self.engine.images.has_layer(d) for d in img.diff_ids[-1:]):
            return False
        self._adopt(state, img)
        self.out(f" ---> Using cache\n ---> {_short(img.id)}\n")
        return True

    def _adopt(self, state: _State, img: Image) -> None:
        state.image_id = img.id
        state.diff_ids = list(img.diff_ids)
        state.config = copy.deepcopy(img.container_config)
        state.history = [dict(h) for h in img.config.get("history") or []]

    # --- FROM ---------------------------------------------------------------------

    def _check_platform(self, value: str) -> None:
        os_name, _, arch = value.partition("/")
        arch = arch.partition("/")[0]
        if os_name != "linux" or (arch and arch != HOST_ARCH):
            raise UnsupportedError(
                f'platform "{value}" is not supported: Orlop builds for linux/{HOST_ARCH} '
                "(the host's platform) only; it emulates no other architecture")

    def _from(self, stage: Stage, meta: dict[str, str | None]) -> _State:
        env = {k: v for k, v in meta.items() if v is not None}
        base = process_word(stage.base, env, self.escape)
        if stage.platform:
            self._check_platform(process_word(stage.platform, env, self.escape))
        if base.lower() == "scratch":
            self.out(" ---> \n")
            return _State(image_id="", diff_ids=[], config={"Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
                history=[])
        if base.lower() in self.stage_images:
            img = self.engine.images.get(self.stage_images[base.lower()])
        else:
            img = self._image(base, pull=self.opts.pull)
        state = _State(image_id="", diff_ids=[], config={}, history=[])
        self._adopt(state, img)
        state.arch = str(img.config.get("architecture") or HOST_ARCH)
        state.os_name = str(img.config.get("os") or "linux")
        self.out(f" ---> {_short(img.id)}\n")
        triggers = list(state.config.get("OnBuild") or [])
        state.config["OnBuild"] = None
        if triggers:
            self.out(f"# Executing {len(triggers)} build trigger"
                     f"{'s' if len(triggers) > 1 else ''}\n")
            for text in triggers:
                for ins in parse_instructions(text):
                    self._dispatch(state, ins)
        return state

    def _image(self, ref: str, *, pull: bool) -> Image:
        if not pull:
            with contextlib.suppress(ImageNotFoundError):
                return self.engine.images.get(ref)
        from orlop.engine.registry import pull as do_pull

        result = do_pull(self.engine, ref, platform=f"linux/{HOST_ARCH}")
        return self.engine.images.get(str(result["Id"]))

    # --- dispatch -----------------------------------------------------------------

    def _env(self, state: _State) -> dict[str, str]:
        """What ``$VAR`` means in this step: the image's Env, then the declared ARGs
        (an ENV of the same name wins: moby's BuildArgs.FilterAllowed)."""
        env = env_map(state.config.get("Env") or [])
        for k, v in self._allowed_args(state).items():
            env.setdefault(k, v)
        return env

    def _allowed_args(self, state: _State) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in state.args.items():
            if v is not None:
                out[k] = v
        for k in PROXY_ARGS:
            value = self.opts.build_args.get(k)
            if value is not None:
                out[k] = value
        return out

    def _word(self, state: _State, text: str) -> str:
        return process_word(text, self._env(state), self.escape)

    def _dispatch(self, state: _State, ins: Instruction) -> None:
        handler: Callable[[_State, Instruction], None] | None = getattr(
            self, "_do_" + ins.cmd.lower(), None)
        if handler is None:
            raise InvalidParameterError(f"unknown instruction: {ins.cmd}")
        allowed = {"COPY": ("from", "chown", "chmod"), "ADD": ("chown", "chmod"),
                   "HEALTHCHECK": ("interval", "timeout", "start-period", "retries",
                                   "start-interval")}.get(ins.cmd, ())
        ins.check_flags(allowed)
        handler(state, ins)

    def _shell(self, state: _State) -> list[str]:
        return list(state.config.get("Shell") or DEFAULT_SHELL)

    def _commit_meta(self, state: _State, comment: str) -> None:
        """A step that changes only the config: a new image on the same layers."""
        run_config = copy.deepcopy(state.config)
        run_config["Cmd"] = [*self._shell(state), "#(nop) ", comment]
        if self._probe(state, run_config):
            return
        self._new_image(state, run_config, empty=True)

    def _new_image(self, state: _State, run_config: dict[str, Any], *, empty: bool,
                   container: str = "") -> None:
        from orlop.images.store import now_rfc3339

        created = now_rfc3339()
        entry: dict[str, Any] = {"created": created,
                                 "created_by": " ".join(run_config.get("Cmd") or [])}
        if empty:
            entry["empty_layer"] = True
        config: dict[str, Any] = {
            "architecture": state.arch,
            "config": _clean_config(state.config),
            "container": container,
            "container_config": _clean_config(run_config),
            "created": created,
            "docker_version": "",
            "history": [*state.history, entry],
            "os": state.os_name,
        }
        if state.author:
            config["author"] = state.author
        if state.image_id:
            config["parent"] = state.image_id
        img = self.engine.images.create_image(list(state.diff_ids), config, None)
        parent = state.image_id
        self._adopt(state, img)
        self.cache.setdefault(cache_key(parent, img.config.get("container_config") or {}),
                              img.id)
        self.out(f" ---> {_short(img.id)}\n")

    # --- metadata instructions ----------------------------------------------------

    def _do_env(self, state: _State, ins: Instruction) -> None:
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

    def _do_label(self, state: _State, ins: Instruction) -> None:
        labels = dict(state.config.get("Labels") or {})
        pairs = []
        for i in range(0, len(ins.args) - 1, 2):
            key = self._word(state, ins.args[i])
            value = self._word(state, ins.args[i + 1])
            labels[key] = value
            pairs.append(f"{key}={value}")
        state.config["Labels"] = labels
        self._commit_meta(state, "LABEL " + " ".join(pairs))

    def _do_maintainer(self, state: _State, ins: Instruction) -> None:
        state.author = " ".join(ins.args)
        self._commit_meta(state, "MAINTAINER " + state.author)

    def _arg_pairs(self, ins: Instruction, env: dict[str, str]
                   ) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for arg in ins.args:
            name, eq, value = arg.partition("=")
            out.append((name, process_word(value, env, self.escape) if eq else None))
        return out

    def _do_arg(self, state: _State, ins: Instruction) -> None:
        comments = []
        for name, default in self._arg_pairs(ins, self._env(state)):
            value = self.opts.build_args[name] if name in self.opts.build_args \
                and self.opts.build_args[name] is not None else default
            state.args[name] = value
            self.used_args.add(name)
            comments.append(f"{name}={default}" if default is not None else name)
        self._commit_meta(state, "ARG " + " ".join(comments))

    def _exec_or_shell(self, state: _State, ins: Instruction) -> list[str]:
        if ins.json:
            return list(ins.args)
        return [*self._shell(state), ins.args[0] if ins.args else ""]

    def _do_cmd(self, state: _State, ins: Instruction) -> None:
        state.config["Cmd"] = self._exec_or_shell(state, ins)
        state.cmd_set = True
        self._commit_meta(state, f"CMD {json.dumps(state.config['Cmd'])}")

    def _do_entrypoint(self, state: _State, ins: Instruction) -> None:
        value = self._exec_or_shell(state, ins)
        state.config["Entrypoint"] = value if (ins.json or (ins.args and ins.args[0])) \
            else None
        if not state.cmd_set:
            state.config["Cmd"] = None
        self._commit_meta(state, f"ENTRYPOINT {json.dumps(state.config['Entrypoint'])}")

    def _do_shell(self, state: _State, ins: Instruction) -> None:
        if not ins.json:
            raise InvalidParameterError("SHELL requires the arguments to be in JSON form")
        state.config["Shell"] = list(ins.args)
        self._commit_meta(state, f"SHELL {json.dumps(list(ins.args))}")

    def _do_expose(self, state: _State, ins: Instruction) -> None:
        ports = dict(state.config.get("ExposedPorts") or {})
        names = []
        for raw in ins.args:
            for word in process_words(raw, self._env(state), self.escape):
                port, _, proto = word.partition("/")
                proto = (proto or "tcp").lower()
                lo, _, hi = port.partition("-")
                if not lo.isdigit() or (hi and not hi.isdigit()):
                    raise InvalidParameterError(f"Invalid containerPort: {port}")
                for p in range(int(lo), int(hi or lo) + 1):
                    ports[f"{p}/{proto}"] = {}
                    names.append(f"{p}/{proto}")
        state.config["ExposedPorts"] = ports
        self._commit_meta(state, "EXPOSE " + " ".join(sorted(names)))

    def _do_volume(self, state: _State, ins: Instruction) -> None:
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
        self._commit_meta(state, f"VOLUME {json.dumps(paths)}")

    def _do_user(self, state: _State, ins: Instruction) -> None:
        state.config["User"] = self._word(state, ins.args[0] if ins.args else "")
        self._commit_meta(state, f"USER {state.config['User']}")

    def _do_stopsignal(self, state: _State, ins: Instruction) -> None:
        sig = self._word(state, ins.args[0] if ins.args else "")
        from orlop.engine.containers.lifecycle import parse_signal

        parse_signal(sig)
        state.config["StopSignal"] = sig
        self._commit_meta(state, f"STOPSIGNAL {sig}")

    def _do_onbuild(self, state: _State, ins: Instruction) -> None:
        trigger = ins.original.split(None, 1)[1].strip() if " " in ins.original.strip() \
            else ""
        state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), trigger]
        self._commit_meta(state, f"ONBUILD {trigger}")

    def _do_healthcheck(self, state: _State, ins: Instruction) -> None:
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
        self._commit_meta(state, f"HEALTHCHECK &{{{hc['Test']!r}}}")

    # --- filesystem instructions --------------------------------------------------

    def _do_workdir(self, state: _State, ins: Instruction) -> None:
        import posixpath

        wd = self._word(state, ins.args[0] if ins.args else "")
        if not wd.startswith("/"):
            wd = posixpath.join(state.config.get("WorkingDir") or "/", wd)
        wd = posixpath.normpath(wd)
        state.config["WorkingDir"] = wd
        run_config = copy.deepcopy(state.config)
        run_config["Cmd"] = [*self._shell(state), "#(nop) ", f"WORKDIR {wd}"]
        if self._probe(state, run_config):
            return
        self._layer_step(state, run_config, [], Ownership(), mkdir=wd)

    def _do_copy(self, state: _State, ins: Instruction) -> None:
        self._copy(state, ins, "COPY")

    def _do_add(self, state: _State, ins: Instruction) -> None:
        self._copy(state, ins, "ADD")

    def _copy(self, state: _State, ins: Instruction, cmd: str) -> None:
        import posixpath

        args = [self._word(state, a) for a in ins.args]
        if len(args) < 2:
            raise InvalidParameterError(f"{cmd} requires at least two arguments, but only "
                                        f"one was provided. Destination could not be "
                                        "determined.")
        *srcs, dest = args
        if not dest.startswith("/"):
            dest = posixpath.join(state.config.get("WorkingDir") or "/", dest) + \
                ("/" if dest.endswith(("/", "/.")) or dest == "." else "")
        chown = self._word(state, ins.flag("chown") or "")
        chmod_text = ins.flag("chmod")
        chmod = None
        if chmod_text:
            try:
                chmod = int(chmod_text, 8)
            except ValueError:
                raise InvalidParameterError(f"invalid chmod parameter: {chmod_text}") \
                    from None
        src_from = ins.flag("from")
        for s in srcs:
            if cmd == "ADD" and s.startswith(("http://", "https://")):
                raise UnsupportedError(
                    f"ADD from a URL ({s}) is not supported: Orlop's builder never reaches "
                    "the network; download the file into the build context and COPY it")
            if cmd == "ADD" and s.startswith("git@"):
                raise UnsupportedError(f"ADD from a git repository ({s}) is not supported")
        with contextlib.ExitStack() as stack:
            dir_dest = dest.endswith(("/", "/."))
            from_img = self._source_image(state, src_from) if src_from else None
            sources: list[tuple[str, str | None]] = []
            if from_img is not None:
                # The source image's id fixes the content: no need to look before the cache.
                import hashlib

                digest = hashlib.sha256("\0".join([from_img.id, *srcs]).encode()).hexdigest()
                kind = "from"
            else:
                for s in srcs:
                    sources.extend((h, rel) for h, rel in self.ctx.resolve(s, cmd))
                digest = checksum(sources, self.ctx.ignore)
                kind = "multi" if len(sources) > 1 else \
                    ("dir" if os.path.isdir(sources[0][0]) else "file")
                if cmd == "ADD" and kind == "file" and _is_archive(sources[0][0]):
                    kind = "archive"  # not Docker's word; only the cache key sees it
            if (len(srcs) > 1 or len(sources) > 1) and not dir_dest:
                raise InvalidParameterError(
                    f"When using {cmd} with more than one source file, the destination "
                    "must be a directory and end with a /")
            flags = (f"--chown={chown} " if chown else "") + \
                (f"--chmod={chmod_text} " if chmod_text else "")
            comment = f"{cmd} {flags}{kind}:{digest} in {dest} "
            run_config = copy.deepcopy(state.config)
            run_config["Cmd"] = [*self._shell(state), "#(nop) ", comment]
            if self._probe(state, run_config):
                return
            dest_exists_dir = dir_dest or self._is_dir_in_image(state, dest)
            fast = chmod is None and all(p.isdigit() for p in chown.split(":") if chown)
            # A numeric --chown needs no look-up in the image: "1" is 1:1, as Docker's.
            owner = tuple(int(p) for p in (chown.split(":") + chown.split(":"))[:2]) \
                if fast and chown else (0, 0)
            if from_img is not None:
                if fast and self._fast_from(state, from_img, srcs, dest, dest_exists_dir,
                                            (owner[0], owner[1]), run_config):
                    return
                sources = self._export_from(stack, from_img, srcs)
            ops = []
            for host, rel in sources:
                if os.path.isdir(host):
                    ops.append(CopyOp(host, rel, dest.rstrip("/") or "/", ""))
                elif cmd == "ADD" and _is_archive(host):
                    ops.append(CopyOp(host, rel, dest.rstrip("/") or "/", "", archive=True))
                elif dest_exists_dir:
                    ops.append(CopyOp(host, rel, dest.rstrip("/") or "/",
                                      posixpath.basename(host)))
                else:
                    parent, _, name = dest.rpartition("/")
                    ops.append(CopyOp(host, rel, parent or "/", name))
            if fast and not any(op.archive for op in ops) and \
                    self._fast_copy(state, ops, (owner[0], owner[1]), run_config):
                return
            self._layer_step(state, run_config, ops, Ownership(chown, chmod))

    def _image_view(self, state: _State) -> ImageView:
        return ImageView(self.engine.images.layer_dirs(self.engine.images.get(
            state.image_id)) if state.image_id else [])

    def _fast_copy(self, state: _State, ops: list[CopyOp], owner: tuple[int, int],
                   run_config: dict[str, Any]) -> bool:
        """The layer written straight from the context (build/layer.py); False when
        the destination needs the overlay path."""
        from orlop.build.fs import piped

        view = self._image_view(state)
        ignore = self.ctx.ignore
        diff: list[str] = []
        try:
            piped(lambda w: write_ops(w, view, ops, owner, ignore),
                  lambda stream: diff.append(self.engine.images.add_layer(stream)))
        except Fallback:
            return False
        state.diff_ids = [*state.diff_ids, diff[0]]
        self._new_image(state, run_config, empty=False)
        return True

    def _fast_from(self, state: _State, img: Image, srcs: list[str], dest: str,
                   dest_is_dir: bool, owner: tuple[int, int],
                   run_config: dict[str, Any]) -> bool:
        """``COPY --from``: the layer written by a child over the source image's view
        straight into the store."""
        from orlop.build import fs

        view = self._image_view(state)
        paths = [s if s.startswith("/") else "/" + s for s in srcs]
        target = dest.rstrip("/") or "/"
        try:
            # Fallback is raised here, before the child: the parents are checked first.
            for d in {target if dest_is_dir else target.rpartition("/")[0]}:
                if d.strip("/"):
                    for i in range(1, len(d.strip("/").split("/")) + 1):
                        st = view.lookup("/".join(d.strip("/").split("/")[:i]))
                        if st is not None and not _is_dir(st):
                            return False
        except Fallback:
            return False
        diff: list[str] = []
        with fs.scratch(self.engine, self.engine.images.layer_dirs(img)) as sc:
            rfd, wfd = os.pipe()

            def child(root: int) -> dict[str, Any]:
                try:
                    write_from_image(wfd, root, view, paths, target, dest_is_dir, owner)
                finally:
                    os.close(wfd)
                return {}

            def consume() -> None:
                with os.fdopen(rfd, "rb", buffering=1 << 20) as stream:
                    diff.append(self.engine.images.add_layer(stream))

            fs.in_root(sc, child, child_close=[rfd], parent_close=[wfd],
                       parent_work=consume)
        state.diff_ids = [*state.diff_ids, diff[0]]
        self._new_image(state, run_config, empty=False)
        return True

    def _source_image(self, state: _State, src_from: str) -> Image:
        key = process_word(src_from, self._env(state), self.escape).lower()
        if key in self.stage_images:
            return self.engine.images.get(self.stage_images[key])
        return self._image(key, pull=False)

    def _export_from(self, stack: contextlib.ExitStack, img: Image,
                     srcs: list[str]) -> list[tuple[str, str | None]]:
        """``COPY --from``: the paths of a stage's or an image's filesystem, copied out to
        a host directory first."""
        from orlop.build import fs

        out = stack.enter_context(fs.scratch(self.engine, []))
        export_dir = out.base / "export"
        export_dir.mkdir(mode=0o700)
        with fs.scratch(self.engine, self.engine.images.layer_dirs(img)) as sc:
            paths = [s if s.startswith("/") else "/" + s for s in srcs]
            fs.in_root(sc, lambda root: fs.export_paths(root, paths, str(export_dir)))
        found: list[tuple[str, str | None]] = []
        for n, s in enumerate(srcs):
            base = s.rstrip("/").rpartition("/")[2] or "root"
            found.append((str(export_dir / str(n) / base), None))
        return found

    def _is_dir_in_image(self, state: _State, path: str) -> bool:
        """Whether ``path`` is a directory in the current image (the top layer that has
        it decides; a whiteout in a higher layer hides it)."""
        import stat as st_mod

        rel = path.strip("/")
        if not rel:
            return True
        for d in reversed(self.engine.images.layer_dirs(self.engine.images.get(
                state.image_id)) if state.image_id else []):
            try:
                st = os.lstat(os.path.join(d, rel))
            except (FileNotFoundError, NotADirectoryError):
                continue
            if st_mod.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return False
            if st_mod.S_ISLNK(st.st_mode):
                return os.path.isdir(os.path.join(d, rel))  # best effort
            return st_mod.S_ISDIR(st.st_mode)
        return False

    def _layer_step(self, state: _State, run_config: dict[str, Any], ops: list[CopyOp],
                    own: Ownership, mkdir: str = "") -> None:
        from orlop.build import fs

        lowers = self.engine.images.layer_dirs(self.engine.images.get(state.image_id)) \
            if state.image_id else []
        ignore = self.ctx.ignore
        with fs.scratch(self.engine, lowers) as sc:
            fs.in_root(sc, lambda root: fs.copy_into(root, ops, own, ignore, mkdir))
            empty = not fs.has_content(sc.upper)
            if not empty:
                self._add_upper(state, sc.upper, [])
        self._new_image(state, run_config, empty=empty)

    def _add_upper(self, state: _State, upper: Any, skip: list[str]) -> None:
        from orlop.engine.files.commit import layer_from_upper

        fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            state.diff_ids = [*state.diff_ids, layer_from_upper(self.engine, fd, skip)]
        finally:
            os.close(fd)

    # --- RUN ----------------------------------------------------------------------

    def _do_run(self, state: _State, ins: Instruction) -> None:
        from orlop.build.steps import run_step

        if not state.image_id:
            raise InvalidParameterError(
                "RUN needs a base image: FROM scratch has no shell to run it")
        cmd = self._exec_or_shell(state, ins)
        args = self._allowed_args(state)
        keyed = sorted(f"{k}={v}" for k, v in args.items() if k not in PROXY_ARGS)
        save_cmd = [f"|{len(keyed)}", *keyed, *cmd] if keyed else list(cmd)
        run_config = copy.deepcopy(state.config)
        run_config["Cmd"] = save_cmd
        run_config["Entrypoint"] = None
        if self._probe(state, run_config):
            return
        env = [f"{k}={v}" for k, v in sorted(args.items())
               if k not in env_map(state.config.get("Env") or [])]
        result = run_step(self.engine, state.image_id, cmd, env, self.opts.network,
                          self.out)
        try:
            if result.exit_code != 0:
                raise BuildStepError(f"The command '{' '.join(cmd)}' returned a non-zero "
                                     f"code: {result.exit_code}", result.exit_code)
            empty = not result.has_changes
            if not empty:
                self._add_upper(state, result.upper, result.mount_targets)
        finally:
            result.remove()
        self._new_image(state, run_config, empty=empty, container=result.container_id)


def _is_dir(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISDIR(st.st_mode)


def _is_archive(path: str) -> bool:
    from orlop.build.fs import is_archive

    return is_archive(path)


def _clean_config(cfg: dict[str, Any]) -> dict[str, Any]:
    from orlop.images.changes import empty_container_config

    out = {**empty_container_config(), **copy.deepcopy(cfg)}
    return out


def _familiar(tagged: str) -> str:
    """``docker.io/library/x:latest`` as Docker prints it (``x:latest``)."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if tagged.startswith(prefix):
            return tagged[len(prefix):]
    return tagged


def build(engine: Engine, context: BuildContext, opts: BuildOptions, emit: Emit) -> str:
    """Build; returns the image id.  Errors are raised (after the output so far)."""
    return Builder(engine, context, opts, emit).run()


__all__ = ["BuildOptions", "Builder", "build", "cache_key"]
