"""Integration fixtures live in harness.py (imported by name from test modules, which a
module called ``conftest`` cannot safely be: several conftest.py files share that name)."""

from harness import (  # noqa: F401 - pytest fixtures
    bb,
    busybox_tar,
    no_leftover_containers,
    orlop,
    tmp_orlop_dir,
)
from plugin_util import rclone  # noqa: F401 - pytest fixture (a real volume plugin)
from registry_util import registry  # noqa: F401 - pytest fixture (a real registry)
