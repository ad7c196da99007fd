"""The command table: every command and group, where it runs and its help, one line each.

Modules are imported only when a command runs, so ``orlop --help`` and ``orlop volume ls``
never load the engine.  A command is registered with :func:`command`; its options are
described where they are declared (``Parser.add_argument(..., help=...)``), and
``--help``/``-h`` is answered from both (cli/help.py), in Docker's layout.

Names follow Docker's: a family of names runs one command and shares its help
(``container ls``, ``container list``, ``container ps`` and ``ps``); the first name is
the canonical one, the others are listed as its Aliases.
"""

from __future__ import annotations

COMMON, MANAGEMENT = "common", "management"


class Command:
    """One command (or group) and its help.

    A plain class with slots, not a dataclass: ~150 of them are made when any verb starts,
    and ``dataclasses`` itself costs ~5 ms to import.  Treated as immutable."""

    __slots__ = (
        "also",
        "entry",
        "examples",
        "long",
        "module",
        "name",
        "section",
        "summary",
        "usage",
    )
    name: str  # canonical full name: "ps", "container ls", "volume"
    module: str  # under orlop.cli.commands
    summary: str  # Docker's one-line description
    usage: str  # what follows the name on the Usage line
    also: tuple[str, ...]  # the family's other full names (aliases, shortcuts)
    entry: str | None  # name given to module.main; None: the group's own dispatch
    section: str  # where the top-level names are listed: COMMON, MANAGEMENT or ""
    long: str  # the whole description, when more than the summary
    examples: str

    def __init__(self, name: str, module: str, summary: str, usage: str,
                 also: tuple[str, ...] = (), entry: str | None = None, section: str = "",
                 long: str = "", examples: str = "") -> None:
        self.name, self.module, self.summary, self.usage = name, module, summary, usage
        self.also, self.entry, self.section = also, entry, section
        self.long, self.examples = long, examples

    def __repr__(self) -> str:
        return f"Command({self.name!r}, {self.module!r})"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.also)

    @property
    def group(self) -> bool:
        return " " not in self.name and self.usage == "COMMAND"


REGISTRY: dict[str, Command] = {}  # canonical name -> command
INDEX: dict[str, Command] = {}  # every name of every command -> command


def command(name: str, module: str, summary: str, usage: str = "[OPTIONS]", *,
            also: tuple[str, ...] = (), entry: str | None = "", section: str = "",
            long: str = "", examples: str = "") -> Command:
    """Register a command: ``command("network ls", "network", "List networks",
    also=("network list",))``.  ``entry`` is the name ``module.main`` receives (default:
    the name's last word for a top-level name, ``None`` for a group member, which then
    gets the group's name and its own sub-command in the arguments)."""
    if entry == "":
        entry = None if " " in name else name
    cmd = Command(name, module, summary, usage, tuple(also), entry, section, long, examples)
    for n in cmd.names:
        if n in INDEX:
            raise ValueError(f"command {n!r} registered twice")
        INDEX[n] = cmd
    REGISTRY[name] = cmd
    return cmd


def group(name: str, module: str, summary: str) -> Command:
    """Register a management group (``orlop container``): its members are the commands
    named ``"<group> <sub>"``."""
    return command(name, module, summary, "COMMAND", section=MANAGEMENT)


def members(group_name: str) -> list[Command]:
    """The group's commands, by sub-command name."""
    prefix = group_name + " "
    return sorted((c for c in REGISTRY.values() if c.name.startswith(prefix)),
                  key=lambda c: c.name)


def top_level() -> dict[str, Command]:
    """Every name typed first after ``orlop``: groups, commands, shortcuts."""
    return {n: c for n, c in INDEX.items() if " " not in n}


# --- containers ----------------------------------------------------------------------
group("container", "container", "Manage containers")
command("container attach", "lifecycle", "Attach local standard input, output, and error "
        "streams to a running container", "[OPTIONS] CONTAINER", also=("attach",),
        entry="attach")
command("container commit", "commit", "Create a new image from a container's changes",
        "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", also=("commit",), entry="commit")
command("container cp", "cp", "Copy files/folders between a container and the local "
        "filesystem", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
        "[OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", also=("cp",), entry="cp",
        long="Copy files/folders between a container and the local filesystem\n\n"
             "Use '-' as the source to read a tar archive from stdin\nand extract it to a "
             "directory destination in a container.\nUse '-' as the destination to stream "
             "a tar archive of a\ncontainer source to stdout.")
command("container create", "run", "Create a new container",
        "[OPTIONS] IMAGE [COMMAND] [ARG...]", also=("create",), entry="create")
command("container diff", "diff", "Inspect changes to files or directories on a container's "
        "filesystem", "CONTAINER", also=("diff",), entry="diff")
command("container exec", "exec", "Execute a command in a running container",
        "[OPTIONS] CONTAINER COMMAND [ARG...]", also=("exec",), entry="exec", section=COMMON)
command("container export", "export", "Export a container's filesystem as a tar archive",
        "[OPTIONS] CONTAINER", also=("export",), entry="export")
command("container inspect", "inspect", "Display detailed information on one or more "
        "containers", "[OPTIONS] CONTAINER [CONTAINER...]", entry="container inspect")
command("container kill", "lifecycle", "Kill one or more running containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", also=("kill",), entry="kill")
command("container logs", "lifecycle", "Fetch the logs of a container",
        "[OPTIONS] CONTAINER", also=("logs",), entry="logs")
command("container ls", "container", "List containers",
        also=("container list", "container ps", "ps"), entry="ps", section=COMMON)
command("container pause", "lifecycle", "Pause all processes within one or more containers",
        "CONTAINER [CONTAINER...]", also=("pause",), entry="pause")
command("container port", "container", "List port mappings or a specific mapping for the "
        "container", "CONTAINER [PRIVATE_PORT[/PROTO]]", also=("port",), entry="port")
command("container prune", "container", "Remove all stopped containers", entry="prune")
command("container rename", "lifecycle", "Rename a container", "CONTAINER NEW_NAME",
        also=("rename",), entry="rename")
command("container restart", "lifecycle", "Restart one or more containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", also=("restart",), entry="restart")
command("container rm", "container", "Remove one or more containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", also=("container remove", "rm"), entry="rm")
command("container run", "run", "Create and run a new container from an image",
        "[OPTIONS] IMAGE [COMMAND] [ARG...]", also=("run",), entry="run", section=COMMON)
command("container start", "container", "Start one or more stopped containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", also=("start",), entry="start")
command("container stats", "stats", "Display a live stream of container(s) resource usage "
        "statistics", "[OPTIONS] [CONTAINER...]", also=("stats",), entry="stats")
command("container stop", "lifecycle", "Stop one or more running containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", also=("stop",), entry="stop")
command("container top", "lifecycle", "Display the running processes of a container",
        "CONTAINER [ps OPTIONS]", also=("top",), entry="top")
command("container unpause", "lifecycle", "Unpause all processes within one or more "
        "containers", "CONTAINER [CONTAINER...]", also=("unpause",), entry="unpause")
command("container update", "stats", "Update configuration of one or more containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", also=("update",), entry="update")
command("container wait", "lifecycle", "Block until one or more containers stop, then print "
        "their exit codes", "CONTAINER [CONTAINER...]", also=("wait",), entry="wait")

# --- images --------------------------------------------------------------------------
group("image", "image", "Manage images")
command("image history", "image", "Show the history of an image", "[OPTIONS] IMAGE",
        also=("history",), entry="history")
command("image import", "image", "Import the contents from a tarball to create a "
        "filesystem image", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", also=("import",),
        entry="import")
command("image inspect", "image", "Display detailed information on one or more images",
        "[OPTIONS] IMAGE [IMAGE...]", entry="inspect")
command("image load", "load", "Load an image from a tar archive or STDIN",
        also=("load",), entry="load")
command("image ls", "image", "List images", "[OPTIONS] [REPOSITORY[:TAG]]",
        also=("image list", "images"), entry="images", section=COMMON)
command("image prune", "image", "Remove unused images", entry="prune")
command("image pull", "distribution", "Download an image from a registry",
        "[OPTIONS] NAME[:TAG|@DIGEST]", also=("pull",), entry="pull", section=COMMON)
command("image push", "distribution", "Upload an image to a registry",
        "[OPTIONS] NAME[:TAG]", also=("push",), entry="push", section=COMMON)
command("image rm", "image", "Remove one or more images", "[OPTIONS] IMAGE [IMAGE...]",
        also=("image remove", "rmi"), entry="rmi")
command("image save", "save", "Save one or more images to a tar archive (streamed to STDOUT "
        "by default)", "[OPTIONS] IMAGE [IMAGE...]", also=("save",), entry="save")
command("image tag", "image", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", also=("tag",), entry="tag")

# --- volumes (the group dispatches its own verbs) -------------------------------------
group("volume", "volume", "Manage volumes")
command("volume clone", "volume", "Copy a volume into a new volume (reflink where the "
        "filesystem can)", "SOURCE TARGET")
command("volume cp", "volume", "Copy files between a volume and the host, or between two "
        "volumes, without a container", "[OPTIONS] VOLUME:SRC_PATH DEST_PATH|VOLUME:DEST_PATH"
        "\n       orlop volume cp [OPTIONS] SRC_PATH VOLUME:DEST_PATH")
command("volume create", "volume", "Create a volume", "[OPTIONS] [VOLUME]")
command("volume export", "volume", "Write a volume's content and settings as a tar archive",
        "[OPTIONS] VOLUME")
command("volume import", "volume", "Restore a volume from an archive made by export (or any "
        "tar)", "[OPTIONS] VOLUME [FILE|-]")
command("volume inspect", "volume", "Display detailed information on one or more volumes",
        "[OPTIONS] VOLUME [VOLUME...]")
command("volume ls", "volume", "List volumes", also=("volume list",))
command("volume prune", "volume", "Remove unused local volumes")
command("volume pull", "volume", "Fetch a volume pushed to a registry (an OCI artifact)",
        "[OPTIONS] REFERENCE [VOLUME]")
command("volume push", "volume", "Upload a volume to a registry as an OCI artifact",
        "[OPTIONS] VOLUME REFERENCE")
command("volume rename", "volume", "Rename a volume no running container uses (stopped "
        "containers follow it)", "OLD_NAME NEW_NAME")
command("volume snapshot", "volume", "Create, list, remove or restore a volume's snapshots",
        "create [OPTIONS] VOLUME [SNAPSHOT]\nls [OPTIONS] VOLUME\nrm VOLUME SNAPSHOT "
        "[SNAPSHOT...]\nrestore VOLUME SNAPSHOT",
        long="Create, list, remove or restore a volume's snapshots.\n\nA snapshot is a "
             "read-only copy of the volume's content kept with the volume (reflinked where "
             "the filesystem can, a full copy otherwise); mount one with -v VOLUME@SNAPSHOT:"
             "/path, export what changed since one with volume export --since SNAPSHOT, "
             "and restore it into the volume while no running container uses it.")
command("volume update", "volume", "Add or remove a volume's labels", "[OPTIONS] VOLUME")
command("volume rm", "volume", "Remove one or more volumes",
        "[OPTIONS] VOLUME [VOLUME...]", also=("volume remove",),
        long="Remove one or more volumes. You cannot remove a volume that is in use by a "
             "container.")

# --- plugins (legacy Docker plugins found on disk: docs/volume-plugins.md) ------------
group("plugin", "plugin", "Manage plugins")
command("plugin ls", "plugin", "List plugins", also=("plugin list",),
        long="List the Docker volume plugins Orlop finds: sockets in /run/docker/plugins "
             "and spec files in /etc/docker/plugins and /usr/lib/docker/plugins (or the "
             "directories ORLOP_PLUGIN_DIRS names), each asked to activate now.")

# --- networks (the group dispatches its own verbs) ------------------------------------
group("network", "network", "Manage networks")
command("network connect", "network", "Connect a container to a network",
        "[OPTIONS] NETWORK CONTAINER")
command("network create", "network", "Create a network", "[OPTIONS] NETWORK")
command("network disconnect", "network", "Disconnect a container from a network",
        "[OPTIONS] NETWORK CONTAINER")
command("network inspect", "network", "Display detailed information on one or more networks",
        "[OPTIONS] NETWORK [NETWORK...]")
command("network ls", "network", "List networks", also=("network list",))
command("network prune", "network", "Remove all unused networks")
command("network rm", "network", "Remove one or more networks", "NETWORK [NETWORK...]",
        also=("network remove",))

# --- system --------------------------------------------------------------------------
group("system", "system", "Manage Orlop")
command("system df", "system", "Show Orlop disk usage")
command("system events", "events", "Get real time events from the server",
        also=("events",), entry="events")
command("system info", "system", "Display system-wide information", also=("info",),
        entry="info", section=COMMON)
command("system prune", "system", "Remove unused data")
command("system service", "system", "Serve the Docker Engine API on a unix socket (orlopd)",
        "[ORLOPD OPTIONS]",
        long="Serve the Docker Engine API on a unix socket (orlopd)\n\nRuns orlopd on this "
             "root; its options (-H, --group, --tlsverify, --read-header-timeout...) are "
             "listed by 'orlopd --help'.")

# --- build -------------------------------------------------------------------------
command("image build", "build", "Build an image from a Dockerfile", "[OPTIONS] PATH | -",
        also=("build", "builder build"), entry="build", section=COMMON)
group("builder", "build", "Manage builds")
command("builder prune", "build", "Remove build cache")

# --- top-level only ------------------------------------------------------------------
command("login", "distribution", "Authenticate to a registry", "[OPTIONS] [SERVER]",
        section=COMMON, long="Authenticate to a registry.\nDefaults to Docker Hub if no "
                             "server is specified.")
command("logout", "distribution", "Log out from a registry", "[SERVER]", section=COMMON,
        long="Log out from a registry.\nIf no server is specified, the default is defined by "
             "the daemon.")
command("inspect", "inspect", "Return low-level information on Docker objects",
        "[OPTIONS] NAME|ID [NAME|ID...]")
command("version", "system", "Show the Orlop version information", section=COMMON)
command("dashboard", "dashboard", "Open orlopd's volumes dashboard in a web browser",
        long="Open orlopd's volumes dashboard in a web browser\n\nForwards a loopback port "
             "to orlopd's unix socket, with a token for this launch, and prints the "
             "address to open (docs/dashboard.md).")

# name -> (module, summary): what main() dispatches on (kept for callers of the old table).
COMMANDS: dict[str, tuple[str, str]] = {n: (c.module, c.summary)
                                        for n, c in top_level().items()}
