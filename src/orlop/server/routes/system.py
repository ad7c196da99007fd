"""``/_ping``, ``/version``, ``/info``, ``/system/df``."""

from __future__ import annotations

import os
import platform
import socket
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop import __version__
from orlop.server.app import API_VERSION, MIN_API_VERSION, server_headers
from orlop.server.context import ctx_of
from orlop.server.schema import container_summary, image_summary
from orlop.server.wire import json_response

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.server.app import Routes

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64"}


async def ping(request: web.Request) -> web.Response:
    headers = {**server_headers(), "Cache-Control": "no-cache, no-store, must-revalidate",
               "Pragma": "no-cache", "Builder-Version": "1"}
    if request.method == "HEAD":
        return web.Response(status=200, headers=headers,
                            content_type="text/plain", charset="utf-8")
    return web.Response(status=200, text="OK", headers=headers)


def version_info() -> dict[str, Any]:
    arch = _GOARCH.get(platform.machine(), platform.machine())
    details = {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
               "Arch": arch, "KernelVersion": platform.release(), "GitCommit": "",
               "GoVersion": "", "BuildTime": "", "Experimental": "false"}
    return {
        "Platform": {"Name": "Orlop Engine"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": "python" + platform.python_version(), "Os": "linux",
        "Arch": arch, "KernelVersion": platform.release(), "BuildTime": "",
    }


async def version(request: web.Request) -> web.Response:
    return json_response(version_info())


async def info(request: web.Request) -> web.Response:
    ctx = ctx_of(request)

    def gather(e: Engine) -> dict[str, Any]:
        from orlop.engine.sysinfo import system_info

        si = system_info(e)
        return {
            "ID": "", "Containers": si.containers, "ContainersRunning": si.running,
            "ContainersPaused": si.paused, "ContainersStopped": si.stopped,
            "Images": si.images, "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "Plugins": {"Volume": ["local"], "Network": ["host", "null"],
                        "Authorization": None, "Log": ["json-file"]},
            "MemoryLimit": False, "SwapLimit": False, "KernelMemoryTCP": False,
            "CpuCfsPeriod": False, "CpuCfsQuota": False, "CPUShares": False,
            "CPUSet": False, "PidsLimit": False, "IPv4Forwarding": False,
            "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": False,
            "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": False,
            "NGoroutines": 0, "SystemTime": _now(), "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs", "CgroupVersion": si.cgroup_version, "NEventsListener": 0,
            "KernelVersion": si.kernel, "OperatingSystem": si.os_name,
            "OSVersion": "", "OSType": "linux", "Architecture": si.arch,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None,
                               "AllowNondistributableArtifactsHostnames": None,
                               "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                               "IndexConfigs": {}, "Mirrors": None},
            "NCPU": si.ncpu, "MemTotal": si.mem_total,
            "GenericResources": None, "DockerRootDir": str(e.config.root),
            "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "Name": socket.gethostname(),
            "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
            "Runtimes": {"orlop": {"path": "orlop-runtime"}, "crun": {"path": "crun"},
                         "runc": {"path": "runc"}},
            "DefaultRuntime": e.config.runtime,
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                      "ControlAvailable": False, "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "",
            "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""},
            "InitCommit": {"ID": ""}, "SecurityOptions": ["name=seccomp,profile=unconfined"],
            "CDISpecDirs": [], "Warnings": None,
        }

    return json_response(await ctx.call(gather))


def _now() -> str:
    from orlop.engine.timefmt import now_rfc3339

    return now_rfc3339()


async def system_df(request: web.Request) -> web.Response:
    """Docker's ``GET /system/df``: images, containers and volumes with their sizes."""
    ctx = ctx_of(request)

    def gather(e: Engine) -> dict[str, Any]:
        from orlop.volumes.fsutil import tree_size

        containers = e.list_containers(all_=True)
        images = e.images.list()
        per_image: dict[str, int] = {}
        for c in containers:
            per_image[c.image_id] = per_image.get(c.image_id, 0) + 1
        vols = []
        for v in e.volumes.list():
            vols.append(v.to_inspect(e.volumes.usage(v.name)))
        ctrs = []
        for c in containers:
            item = container_summary(e, c)
            path = e.config.containers_dir / c.id / "diff"
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                size = 0
            else:
                try:
                    size = tree_size(fd)
                finally:
                    os.close(fd)
            item["SizeRw"] = size
            item["SizeRootFs"] = size + e.images.get(c.image_id).size
            ctrs.append(item)
        imgs = []
        for i in images:
            item = image_summary(i)
            item["Containers"] = per_image.get(i.id, 0)
            imgs.append(item)
        return {"LayersSize": sum(i.size for i in images), "Images": imgs,
                "Containers": ctrs, "Volumes": vols, "BuildCache": []}

    return json_response(await ctx.call(gather))


def register(routes: Routes) -> None:
    routes.add("GET", "/_ping", ping)
    routes.add("GET", "/version", version)
    routes.add("GET", "/info", info)
    routes.add("GET", "/system/df", system_df)
