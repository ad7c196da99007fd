"""``/version``, ``/info`` and ``/system/df`` as the Docker Engine API answers them.

orlopd's system routes and the CLI's local backend call these same functions, so
``orlop info``, ``orlop version`` and ``orlop system df`` render one dict whether the
engine runs in-process or behind ``-H``.
"""

from __future__ import annotations

import os
import platform
import socket
from typing import TYPE_CHECKING, Any

from orlop import __version__
from orlop.wire.version import API_VERSION, GOARCH, MIN_API_VERSION

if TYPE_CHECKING:
    from orlop.engine.engine import Engine

def version_info(api_version: str = API_VERSION,
                 min_api_version: str = MIN_API_VERSION) -> dict[str, Any]:
    """``GET /version``: the engine's side of ``orlop version``."""
    arch = GOARCH.get(platform.machine(), platform.machine())
    details = {"ApiVersion": api_version, "MinAPIVersion": min_api_version, "Os": "linux",
               "Arch": arch, "KernelVersion": platform.release(), "GitCommit": "",
               "GoVersion": "", "BuildTime": "", "Experimental": "false"}
    return {
        "Platform": {"Name": "Orlop Engine"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": api_version, "MinAPIVersion": min_api_version,
        "GitCommit": "", "GoVersion": "python" + platform.python_version(), "Os": "linux",
        "Arch": arch, "KernelVersion": platform.release(), "BuildTime": "",
    }


def info(engine: Engine) -> dict[str, Any]:
    """``GET /info``.  ``RunRoot`` is Orlop's addition (podman has it as well)."""
    from orlop.engine.sysinfo import system_info
    from orlop.engine.timefmt import now_rfc3339

    si = system_info(engine)
    return {
        "ID": "", "Containers": si.containers, "ContainersRunning": si.running,
        "ContainersPaused": si.paused, "ContainersStopped": si.stopped,
        "Images": si.images, "Volumes": si.volumes, "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"]],
        "Plugins": {"Volume": ["local"], "Network": ["host", "null"],
                    "Authorization": None, "Log": ["json-file"]},
        "MemoryLimit": False, "SwapLimit": False, "KernelMemoryTCP": False,
        "CpuCfsPeriod": False, "CpuCfsQuota": False, "CPUShares": False,
        "CPUSet": False, "PidsLimit": False, "IPv4Forwarding": False,
        "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": False,
        "NGoroutines": 0, "SystemTime": now_rfc3339(), "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": si.cgroup_version, "NEventsListener": 0,
        "KernelVersion": si.kernel, "OperatingSystem": si.os_name,
        "OSVersion": "", "OSType": "linux", "Architecture": si.arch,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None,
                           "AllowNondistributableArtifactsHostnames": None,
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "IndexConfigs": {}, "Mirrors": None},
        "NCPU": si.ncpu, "MemTotal": si.mem_total,
        "GenericResources": None, "DockerRootDir": str(engine.config.root),
        "RunRoot": str(engine.config.run_root),
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "Name": socket.gethostname(),
        "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
        "Runtimes": {"orlop": {"path": "orlop-runtime"}, "crun": {"path": "crun"},
                     "runc": {"path": "runc"}},
        "DefaultRuntime": engine.config.runtime,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "",
        "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""}, "SecurityOptions": _security_options(),
        "CDISpecDirs": [], "Warnings": None,
    }


def _security_options() -> list[str]:
    """Docker's list (moby fillSecurityOptions): the default seccomp profile is the one
    shipped in the package ("builtin"), when the kernel has seccomp at all."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            seccomp = any(line.startswith("Seccomp:") for line in f)
    except OSError:
        seccomp = False
    return ["name=seccomp,profile=builtin"] if seccomp else []


def disk_usage(engine: Engine) -> dict[str, Any]:
    """``GET /system/df``: images (with how many containers use each), containers (with
    the size of their writable layer) and volumes (with ``UsageData``)."""
    from orlop.engine.files.changes import writable_size
    from orlop.wire.summary import container_summary, image_summary
    from orlop.wire.volumes import volume_json

    containers = engine.list_containers(all_=True)
    images = engine.images.list()
    sizes = {i.id: i.size for i in images}
    # A layer is stored once however many images name it (by diff_id): LayersSize
    # counts it once, and an image's SharedSize is what it has in common with others
    # (moby's layerRefs > 1), so the CLI's reclaimable space leaves out only what the
    # images in use own alone.
    refs: dict[str, int] = {}
    for i in images:
        for d in set(i.diff_ids):
            refs[d] = refs.get(d, 0) + 1
    layer_size = dict(zip(refs, engine.images.layer_sizes(list(refs)), strict=True))
    per_image: dict[str, int] = {}
    for c in containers:
        per_image[c.image_id] = per_image.get(c.image_id, 0) + 1
    ctrs = []
    for c in containers:
        item = container_summary(engine, c)
        size = writable_size(engine.config, c)
        item["SizeRw"] = size
        item["SizeRootFs"] = size + sizes.get(c.image_id, 0)
        ctrs.append(item)
    imgs = []
    for i in images:
        item = image_summary(i)
        item["Containers"] = per_image.get(i.id, 0)
        item["SharedSize"] = sum(layer_size[d] for d in set(i.diff_ids) if refs[d] > 1)
        imgs.append(item)
    # Docker's df counts local volumes only (a plugin's data is not on this host).
    vols = [volume_json(v, engine.volumes.usage(v.name)) for v in engine.volumes.list()
            if v.driver == "local"]
    return {"LayersSize": sum(layer_size.values()), "Images": imgs, "Containers": ctrs,
            "Volumes": vols, "BuildCache": []}


__all__ = ["disk_usage", "info", "version_info"]
