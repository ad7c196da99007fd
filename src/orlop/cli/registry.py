"""The command table: name -> (module, summary).  Modules are imported only when run,
so ``orlop --help`` and ``orlop volume ls`` never load the runtime."""

from __future__ import annotations

# name: (module under orlop.cli.commands, one-line summary as Docker words it)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "Create and run a new container from an image"),
    "create": ("run", "Create a new container"),
    "start": ("container", "Start one or more stopped containers"),
    "ps": ("container", "List containers"),
    "rm": ("container", "Remove one or more containers"),
    "inspect": ("inspect", "Return low-level information on Docker objects"),
    "container": ("container", "Manage containers"),
    "import": ("image", "Import the contents from a tarball to create a filesystem image"),
    "images": ("image", "List images"),
    "rmi": ("image", "Remove one or more images"),
    "tag": ("image", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "image": ("image", "Manage images"),
    "volume": ("volume", "Manage volumes"),
    "system": ("system", "Manage Orlop"),
    "version": ("system", "Show the Orlop version information"),
    "info": ("system", "Display system-wide information"),
}
