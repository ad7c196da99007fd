"""`orlop system df`: what images, containers and volumes take on disk (Docker's layout),
rendered from the ``GET /system/df`` dict (wire/system.py builds it in-process and
for orlopd alike)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from orlop.cli.output import render_table
from orlop.mounts.validate import go_quote


def _pct(part: int, total: int) -> str:
    return f" ({part * 100 // total}%)" if total else ""


def _ago(epoch: int, now: float) -> str:
    from orlop.cli.units import human_duration

    return human_duration(now - epoch) + " ago"


def disk_usage(df: Mapping[str, Any], *, verbose: bool = False, fmt: str = "") -> str:
    from orlop.cli.units import human_size

    now = time.time()
    images = list(df.get("Images") or [])
    containers = list(df.get("Containers") or [])
    volumes = list(df.get("Volumes") or [])
    # The docker CLI's: the total is LayersSize (a shared layer once); what images in
    # use hold alone (Size - SharedSize) is not reclaimable, the rest is.
    img_size = int(df.get("LayersSize") or 0)
    used = 0
    for i in images:
        size, shared = int(i.get("Size", -1)), int(i.get("SharedSize", -1))
        if int(i.get("Containers") or 0) > 0 and size != -1 and shared != -1:
            used += size - shared
    img_reclaim = img_size - used
    ctr_size = sum(int(c.get("SizeRw") or 0) for c in containers)
    ctr_reclaim = sum(int(c.get("SizeRw") or 0) for c in containers
                      if c.get("State") != "running")
    usage = {v["Name"]: v.get("UsageData") or {} for v in volumes}
    vol_size = sum(max(int(u.get("Size") or 0), 0) for u in usage.values())
    vol_reclaim = sum(max(int(u.get("Size") or 0), 0) for u in usage.values()
                      if not u.get("RefCount"))
    summary = [
        ["Images", str(len(images)),
         str(sum(1 for i in images if int(i.get("Containers") or 0) > 0)),
         human_size(img_size, 4), human_size(img_reclaim, 4) + _pct(img_reclaim, img_size)],
        ["Containers", str(len(containers)),
         str(sum(1 for c in containers if c.get("State") == "running")),
         human_size(ctr_size, 4), human_size(ctr_reclaim, 4) + _pct(ctr_reclaim, ctr_size)],
        ["Local Volumes", str(len(volumes)),
         str(sum(1 for u in usage.values() if u.get("RefCount"))),
         human_size(vol_size, 4), human_size(vol_reclaim, 4) + _pct(vol_reclaim, vol_size)],
        ["Build Cache", "0", "0", "0B", "0B"],
    ]
    if fmt:
        from orlop.cli.output import format_template

        keys = ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
        return "".join(format_template(fmt, dict(zip(keys, row, strict=True)), row=True) + "\n"
                       for row in summary)
    if not verbose:
        return render_table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], summary) + "\n"
    from orlop.images.reference import split_tagged

    out = ["Images space usage:", ""]
    rows = []
    for i in images:
        total = int(i.get("Size") or 0)
        shared = int(i.get("SharedSize", -1))
        size_text = human_size(total)
        shared_text = human_size(shared, 4) if shared != -1 else "N/A"
        unique = human_size(total - shared, 4) if shared != -1 else "N/A"
        for t in i.get("RepoTags") or ["<none>:<none>"]:
            repo, tag = split_tagged(t)
            rows.append([repo, tag, str(i["Id"]).removeprefix("sha256:")[:12],
                         _ago(int(i.get("Created") or 0), now), size_text, shared_text, unique,
                         str(i.get("Containers") or 0)])
    out.append(render_table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE",
                             "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"], rows))
    out += ["", "Containers space usage:", ""]
    rows = []
    for c in containers:
        nvol = sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")
        cmd = str(c.get("Command") or "")
        names = ",".join(n.lstrip("/") for n in c.get("Names") or [])
        if len(cmd) > 20:
            cmd = cmd[:19] + "…"
        rows.append([str(c["Id"])[:12], str(c.get("Image") or ""), go_quote(cmd), str(nvol),
                     human_size(int(c.get("SizeRw") or 0)),
                     _ago(int(c.get("Created") or 0), now), str(c.get("Status") or ""),
                     names])
    out.append(render_table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE",
                             "CREATED", "STATUS", "NAMES"], rows))
    out += ["", "Local Volumes space usage:", ""]
    rows = [[v["Name"], str(usage[v["Name"]].get("RefCount") or 0),
             human_size(int(usage[v["Name"]].get("Size") or 0), 4)] for v in volumes]
    out.append(render_table(["VOLUME NAME", "LINKS", "SIZE"], rows))
    out += ["", "Build cache usage: 0B", ""]
    return "\n".join(out)
