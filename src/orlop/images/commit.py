"""The image config of ``commit``: the parent image's, the container's run options on top,
then the ``--change`` instructions, and one more history entry.

Pure data (no files): the layer itself is made by ``orlop.engine.files.commit``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence

from orlop.images.changes import apply_changes, empty_container_config, merge_env
from orlop.images.configenv import config_env

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

EMPTY_LAYER_DIFF_ID = \
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


def container_config_for_commit(image_config: Mapping[str, Any], *, hostname: str,
                                user: str, env: Sequence[str], cmd: Sequence[str] | None,
                                entrypoint: Sequence[str] | None, image_ref: str,
                                working_dir: str, labels: Mapping[str, str],
                                volumes: Mapping[str, Any] | None, tty: bool = False,
                                open_stdin: bool = False) -> dict[str, Any]:
    """The container's effective ``Config`` as Docker records it (image defaults with the
    run options on top); what ``commit`` starts from before ``--change``."""
    cfg = {**empty_container_config(), **copy.deepcopy(dict(image_config))}
    cfg["Hostname"] = hostname
    if user:
        cfg["User"] = user
    cfg["Env"] = config_env(cfg.get("Env") or [], env) or None
    if entrypoint is not None:
        cfg["Entrypoint"] = list(entrypoint) or None
        # `run --entrypoint X image` without a command drops the image's CMD (Docker).
        cfg["Cmd"] = list(cmd) if cmd is not None else None
    elif cmd is not None:
        cfg["Cmd"] = list(cmd)
    cfg["Image"] = image_ref
    if working_dir:
        cfg["WorkingDir"] = working_dir
    if labels:
        cfg["Labels"] = {**(cfg.get("Labels") or {}), **labels}
    # Config.Volumes: the image's VOLUMEs and the container's anonymous `-v /path`
    # (never the named ones: reference 2.14, `{"/data":{}}` for `-v /data -v n:/named`).
    vols = {**(cfg.get("Volumes") or {}), **{k: {} for k in (volumes or {})}}
    cfg["Volumes"] = vols or None
    cfg["Tty"] = tty
    cfg["OpenStdin"] = open_stdin
    cfg["AttachStdin"] = cfg["StdinOnce"] = False
    return cfg


def commit_image_config(parent: Mapping[str, Any], parent_id: str, container_id: str,
                        container_config: dict[str, Any], changes: Sequence[str], *,
                        author: str, message: str, created: str, empty_layer: bool
                        ) -> dict[str, Any]:
    """The whole image config JSON of the committed image (without ``rootfs``, which the
    store fills in from the layers)."""
    cfg = apply_changes(container_config, changes)
    history = [dict(h) for h in parent.get("history") or []]
    entry: dict[str, Any] = {"created": created}  # moby's field order: the id's bytes
    if author:
        entry["author"] = author
    created_by = " ".join(container_config.get("Cmd") or [])  # moby's commit: the Cmd
    if created_by:
        entry["created_by"] = created_by
    if message:
        entry["comment"] = message
    if empty_layer:
        entry["empty_layer"] = True
    history.append(entry)
    out: dict[str, Any] = {
        "architecture": parent.get("architecture") or "",
        "author": author,
        "comment": message,
        "config": cfg,
        "container": container_id,
        "container_config": container_config,
        "created": created,
        "docker_version": "",
        "history": history,
        "os": parent.get("os") or "linux",
        "parent": parent_id,
    }
    if not out["architecture"]:
        del out["architecture"]
    if parent.get("variant"):
        out["variant"] = parent["variant"]
    return out


def canonical(config: Mapping[str, Any]) -> bytes:
    """The bytes the store hashes for an image id (compact JSON, as it stores them)."""
    return json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode()


__all__ = ["EMPTY_LAYER_DIFF_ID", "commit_image_config", "config_env",
           "container_config_for_commit", "merge_env"]
