"""`orlop system df`: what images, containers and volumes take on disk (Docker's layout)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from orlop.cli.output import render_table

if TYPE_CHECKING:
    from orlop.engine.engine import Engine


def _dir_size(path: str) -> int:
    """Apparent size below ``path``, symlinks not followed, hard links counted once."""
    from orlop.volumes.fsutil import tree_size

    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        return tree_size(fd)
    finally:
        os.close(fd)


def _pct(part: int, total: int) -> str:
    return f" ({part * 100 // total}%)" if total else ""


def disk_usage(engine: Engine, *, verbose: bool = False, fmt: str = "") -> str:
    from orlop.cli.units import human_size, time_ago

    images = engine.images.list()
    containers = engine.list_containers(all_=True)
    volumes = engine.volumes.list()
    used_images = {c.image_id for c in containers}
    img_size = sum(i.size for i in images)
    img_reclaim = sum(i.size for i in images if i.id not in used_images)
    ctr_sizes = {c.id: _dir_size(str(engine.config.containers_dir / c.id / "diff"))
                 for c in containers}
    ctr_size = sum(ctr_sizes.values())
    ctr_reclaim = sum(s for cid, s in ctr_sizes.items()
                      if next(c for c in containers if c.id == cid).status != "running")
    vol_usage = {v.name: engine.volumes.usage(v.name) for v in volumes}
    vol_size = sum(s for s, _ in vol_usage.values())
    vol_reclaim = sum(s for s, n in vol_usage.values() if n == 0)
    summary = [
        ["Images", str(len(images)), str(len(used_images & {i.id for i in images})),
         human_size(img_size), human_size(img_reclaim) + _pct(img_reclaim, img_size)],
        ["Containers", str(len(containers)),
         str(sum(1 for c in containers if c.status == "running")), human_size(ctr_size),
         human_size(ctr_reclaim) + _pct(ctr_reclaim, ctr_size)],
        ["Local Volumes", str(len(volumes)), str(sum(1 for _, n in vol_usage.values() if n)),
         human_size(vol_size), human_size(vol_reclaim) + _pct(vol_reclaim, vol_size)],
        ["Build Cache", "0", "0", "0B", "0B"],
    ]
    if fmt:
        from orlop.cli.output import format_template

        keys = ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
        return "".join(format_template(fmt, dict(zip(keys, row, strict=True))) + "\n"
                       for row in summary)
    if not verbose:
        return render_table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], summary) + "\n"
    out = ["Images space usage:", ""]
    rows = []
    for i in images:
        tags = list(i.repo_tags) or ["<none>:<none>"]
        for t in tags:
            repo, _, tag = t.rpartition(":")
            rows.append([repo, tag, i.short_id, time_ago(i.created), human_size(i.size),
                         "0B", human_size(i.size),
                         str(sum(1 for c in containers if c.image_id == i.id))])
    out.append(render_table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE",
                             "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"], rows))
    out += ["", "Containers space usage:", ""]
    rows = []
    for c in containers:
        nvol = sum(1 for mp in engine.mount_points(c.id) if mp.get("type") == "volume")
        cmd = " ".join([*(c.config.entrypoint or []), *(c.config.cmd or [])])
        rows.append([c.short_id, c.image_ref, f'"{cmd[:19]}"', str(nvol),
                     human_size(ctr_sizes[c.id]), time_ago(c.created), c.status, c.name])
    out.append(render_table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE",
                             "CREATED", "STATUS", "NAMES"], rows))
    out += ["", "Local Volumes space usage:", ""]
    rows = [[v.name, str(vol_usage[v.name][1]), human_size(vol_usage[v.name][0], 4)]
            for v in volumes]
    out.append(render_table(["VOLUME NAME", "LINKS", "SIZE"], rows))
    out += ["", "Build cache usage: 0B", ""]
    return "\n".join(out)
