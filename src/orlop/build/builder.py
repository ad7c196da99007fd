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
  config on the same layers, no container (build/metadata.py);
* COPY, ADD, WORKDIR: a layer written without a container (build/copying.py);
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

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING

from orlop.build.base import (
    DEFAULT_SHELL,
    HOST_ARCH,
    PROXY_ARGS,
    StageState,
    cache_key,
    short_id,
)
from orlop.build.context import BuildContext
from orlop.build.copying import FileSteps
from orlop.build.metadata import MetadataSteps
from orlop.build.options import BuildOptions, Emit
from orlop.build.parser import Instruction, Stage, parse, parse_instructions
from orlop.build.words import env_map, process_word
from orlop.errors import BuildStepError, InvalidParameterError

if TYPE_CHECKING:
    from orlop.engine.engine import Engine
    from orlop.images.store import Image


class Builder(MetadataSteps, FileSteps):
    """One build: the stages up to the target, step by step."""

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
            self.out(f"Successfully built {short_id(final)}\n")
        for tag in self.opts.tags:
            self.engine.images.tag(final, tag)
            if not self.opts.quiet:
                from orlop.images.reference import parse_tag_target

                self.out(f"Successfully tagged {_familiar(parse_tag_target(tag).tagged)}\n")
        return final

    def _load_cache(self) -> None:
        images = self.engine.images.list()
        allowed = _cache_sources(self.engine, images, self.opts.cache_from) \
            if self.opts.cache_from else None
        for img in images:
            cc = img.config.get("container_config")
            if isinstance(cc, dict) and (allowed is None or img.id in allowed):
                self.cache.setdefault(cache_key(img.config.get("parent") or "", cc), img.id)

    def _from(self, stage: Stage, meta: dict[str, str | None]) -> StageState:
        env = {k: v for k, v in meta.items() if v is not None}
        base = process_word(stage.base, env, self.escape)
        if stage.platform:
            self._check_platform(process_word(stage.platform, env, self.escape))
        if base.lower() == "scratch":
            self.out(" ---> \n")
            return StageState(image_id="", diff_ids=[], config={"Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
                history=[])
        if base.lower() in self.stage_images:
            img = self.engine.images.get(self.stage_images[base.lower()])
        else:
            img = self._image(base, pull=self.opts.pull)
        state = StageState(image_id="", diff_ids=[], config={}, history=[])
        self._adopt(state, img)
        state.arch = str(img.config.get("architecture") or HOST_ARCH)
        state.os_name = str(img.config.get("os") or "linux")
        self.out(f" ---> {short_id(img.id)}\n")
        triggers = list(state.config.get("OnBuild") or [])
        state.config["OnBuild"] = None
        if triggers:
            self.out(f"# Executing {len(triggers)} build trigger"
                     f"{'s' if len(triggers) > 1 else ''}\n")
            for text in triggers:
                for ins in parse_instructions(text):
                    self._dispatch(state, ins)
        return state

    def _dispatch(self, state: StageState, ins: Instruction) -> None:
        handler: Callable[[StageState, Instruction], None] | None = getattr(
            self, "_do_" + ins.cmd.lower(), None)
        if handler is None:
            raise InvalidParameterError(f"unknown instruction: {ins.cmd}")
        allowed = {"COPY": ("from", "chown", "chmod"), "ADD": ("chown", "chmod"),
                   "HEALTHCHECK": ("interval", "timeout", "start-period", "retries",
                                   "start-interval")}.get(ins.cmd, ())
        ins.check_flags(allowed)
        handler(state, ins)

    def _do_run(self, state: StageState, ins: Instruction) -> None:
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
                          self.out, extra_hosts=self.opts.extra_hosts,
                          shm_size=self.opts.shm_size)
        try:
            if result.exit_code != 0:
                raise BuildStepError(f"The command '{' '.join(cmd)}' returned a non-zero "
                                     f"code: {result.exit_code}", result.exit_code)
            empty = not result.has_changes
            if not empty:
                self._add_upper(state, result.upper, result.mount_targets)
        finally:
            # --rm=false keeps every step's container, as Docker's; otherwise each is
            # removed, also after a failure (Docker's --force-rm, Orlop's default).
            if self.opts.remove or self.opts.force_rm:
                result.remove()
        self._new_image(state, run_config, empty=empty, container=result.container_id)


def _cache_sources(engine: Engine, images: list[Image], refs: tuple[str, ...]) -> set[str]:
    """``--cache-from``: the listed images and their ancestors, the only step images a
    build may reuse then (moby's ``ImageCache``: a local hit counts only when it is a
    parent of a source).  A name that is no image is skipped, as moby does."""
    from orlop.errors import OrlopError

    parents = {img.id: str(img.config.get("parent") or "") for img in images}
    allowed: set[str] = set()
    for ref in refs:
        try:
            cur = engine.images.get(ref).id
        except OrlopError:
            continue
        while cur and cur not in allowed:
            allowed.add(cur)
            cur = parents.get(cur, "")
    return allowed


def _familiar(tagged: str) -> str:
    """``docker.io/library/x:latest`` as Docker prints it (``x:latest``)."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if tagged.startswith(prefix):
            return tagged[len(prefix):]
    return tagged


def build(engine: Engine, context: BuildContext, opts: BuildOptions, emit: Emit) -> str:
    """Build; returns the image id.  Errors are raised (after the output so far)."""
    return Builder(engine, context, opts, emit).run()


__all__ = ["DEFAULT_SHELL", "HOST_ARCH", "BuildOptions", "Builder", "build", "cache_key"]
