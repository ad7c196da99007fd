"""Integration fixtures live in harness.py (imported by name from test modules, which a
module called ``conftest`` cannot safely be: several conftest.py files share that name)."""

from harness import bb, busybox_tar, orlop, tmp_orlop_dir  # noqa: F401 - pytest fixtures
from registry_util import registry  # noqa: F401 - pytest fixture (a real registry)
