"""What every step of the classic builder shares: the stage's state, the cache probe,
variable substitution, and the commit of a step's image.

A step's image has the image of the step before as its ``parent`` and the run config
the step was made with as its ``container_config``, exactly as moby's
``builder/dockerfile`` records them, because that pair is the cache key (moby's
``ImageCache.GetCache``): :func:`cache_key`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orlop.build.context import BuildContext
from orlop.build.options import BuildOptions, Emit
from orlop.build.parser import Instruction
from orlop.build.words import env_map, process_word
from orlop.errors import ImageNotFoundError, UnsupportedError

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


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def cache_key(parent: str, run_config: dict[str, Any]) -> str:
    sub = {k: run_config.get(k) or None for k in _KEY_FIELDS}
    return parent + "\n" + json.dumps(sub, sort_keys=True)


@dataclass
class StageState:
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


class StepBase:
    """The builder's shared state and helpers (build/builder.py puts the steps on it)."""

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

    def out(self, text: str) -> None:
        if not self.opts.quiet:
            self._emit({"stream": text})

    def _probe(self, state: StageState, run_config: dict[str, Any]) -> bool:
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
        self.out(f" ---> Using cache\n ---> {short_id(img.id)}\n")
        return True

    def _adopt(self, state: StageState, img: Image) -> None:
        state.image_id = img.id
        state.diff_ids = list(img.diff_ids)
        state.config = copy.deepcopy(img.container_config)
        state.history = [dict(h) for h in img.config.get("history") or []]

    def _check_platform(self, value: str) -> None:
        os_name, _, arch = value.partition("/")
        arch = arch.partition("/")[0]
        if os_name != "linux" or (arch and arch != HOST_ARCH):
            raise UnsupportedError(
                f'platform "{value}" is not supported: Orlop builds for linux/{HOST_ARCH} '
                "(the host's platform) only; it emulates no other architecture")

    def _image(self, ref: str, *, pull: bool) -> Image:
        if not pull:
            with contextlib.suppress(ImageNotFoundError):
                return self.engine.images.get(ref)
        from orlop.engine.registry import pull as do_pull

        result = do_pull(self.engine, ref, platform=f"linux/{HOST_ARCH}")
        return self.engine.images.get(str(result["Id"]))

    def _source_image(self, state: StageState, src_from: str) -> Image:
        key = process_word(src_from, self._env(state), self.escape).lower()
        if key in self.stage_images:
            return self.engine.images.get(self.stage_images[key])
        return self._image(key, pull=False)

    def _env(self, state: StageState) -> dict[str, str]:
        """What ``$VAR`` means in this step: the image's Env, then the declared ARGs
        (an ENV of the same name wins: moby's BuildArgs.FilterAllowed)."""
        env = env_map(state.config.get("Env") or [])
        for k, v in self._allowed_args(state).items():
            env.setdefault(k, v)
        return env

    def _allowed_args(self, state: StageState) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in state.args.items():
            if v is not None:
                out[k] = v
        for k in PROXY_ARGS:
            value = self.opts.build_args.get(k)
            if value is not None:
                out[k] = value
        return out

    def _word(self, state: StageState, text: str) -> str:
        return process_word(text, self._env(state), self.escape)

    def _shell(self, state: StageState) -> list[str]:
        return list(state.config.get("Shell") or DEFAULT_SHELL)

    def _exec_or_shell(self, state: StageState, ins: Instruction) -> list[str]:
        if ins.json:
            return list(ins.args)
        return [*self._shell(state), ins.args[0] if ins.args else ""]

    def _commit_meta(self, state: StageState, comment: str) -> None:
        """A step that changes only the config: a new image on the same layers."""
        run_config = copy.deepcopy(state.config)
        run_config["Cmd"] = [*self._shell(state), "#(nop) ", comment]
        if self._probe(state, run_config):
            return
        self._new_image(state, run_config, empty=True)

    def _new_image(self, state: StageState, run_config: dict[str, Any], *, empty: bool,
                   container: str = "") -> None:
        from orlop.timestamps import now_rfc3339

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
        self.out(f" ---> {short_id(img.id)}\n")


def _clean_config(cfg: dict[str, Any]) -> dict[str, Any]:
    from orlop.images.changes import empty_container_config

    out = {**empty_container_config(), **copy.deepcopy(cfg)}
    return out
