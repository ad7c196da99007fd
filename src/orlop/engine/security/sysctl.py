"""``--sysctl`` / ``HostConfig.Sysctls``: only sysctls that belong to one of the
container's own namespaces.

A sysctl outside the container's namespaces would change the host for everyone
(``vm.*``, ``kernel.core_pattern``: a way out of the container).  The rules and
texts are runc's (libcontainer/configs/validate ``sysctl``), which is what Docker
applies; Orlop checks them at create, so a refused container is never made.
"""

from __future__ import annotations

from orlop.errors import InvalidParameterError

# IPC-namespaced sysctls (runc validSysctlMap); fs.mqueue.* too.
IPC_SYSCTLS = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
})


def cli_sysctl_allowed(name: str) -> bool:
    """The docker CLI's own first check (opts.ValidateSysctl): the names that can be
    namespaced at all."""
    return name in IPC_SYSCTLS or name.startswith(("net.", "fs.mqueue."))


def validate_sysctls(sysctls: dict[str, str], *, private_ipc: bool, private_net: bool,
                     private_uts: bool) -> None:
    """Refuse a sysctl that is not in a namespace the container has of its own.

    Raises:
        InvalidParameterError: runc's texts, e.g. ``sysctl "vm.swappiness" is not in a
            separate kernel namespace``.
    """
    for name, value in sysctls.items():
        if "/" in name or not name or any(not part for part in name.split(".")):
            raise InvalidParameterError(f'sysctl "{name}" is not in a separate kernel '
                                        "namespace")
        if "\n" in value or "\x00" in value:
            raise InvalidParameterError(f'invalid value for sysctl "{name}": {value!r}')
        if name in IPC_SYSCTLS or name.startswith("fs.mqueue."):
            if private_ipc:
                continue
            raise InvalidParameterError(f'sysctl "{name}" is not allowed in the hosts ipc '
                                        "namespace")
        if name.startswith("net."):
            if private_net:
                continue
            raise InvalidParameterError(f'sysctl "{name}" is not allowed in the hosts network '
                                        "namespace")
        if private_uts:
            if name == "kernel.domainname":
                continue
            if name == "kernel.hostname":
                raise InvalidParameterError(f'sysctl "{name}" is not allowed as it conflicts '
                                            'with the OCI "hostname" field')
        raise InvalidParameterError(f'sysctl "{name}" is not in a separate kernel namespace')
