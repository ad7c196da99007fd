"""orlop/config.py imports pathlib without urllib.parse (issue 17), and nothing of
urllib.parse is lost: Path.as_uri() and a later ``import urllib.parse`` get the real one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

_PROBE = f"""
import json, sys
sys.path.insert(0, {str(SRC)!r})
import orlop.config
out = {{"before": [m in sys.modules for m in ("pathlib", "urllib.parse", "ipaddress")]}}
from pathlib import Path
out["uri"] = Path("/a b/c").as_uri()
import urllib.parse
out["real"] = urllib.parse.__file__ == sys.modules["urllib.parse"].__file__ is not None
out["split"] = urllib.parse.urlsplit("http://h:1/p?q").port
print(json.dumps(out))
"""


def test_pathlib_without_urllib_parse_until_asked() -> None:
    done = subprocess.run([sys.executable, "-S", "-I", "-c", _PROBE], capture_output=True,
                          text=True, check=True)
    out = json.loads(done.stdout)
    assert out["before"] == [True, False, False]
    assert out["uri"] == "file:///a%20b/c"
    assert out["real"] is True and out["split"] == 1


def test_already_imported_urllib_parse_is_left_alone() -> None:
    probe = _PROBE.replace("import orlop.config",
                           "import urllib.parse as first\nimport orlop.config")
    probe = probe.replace('out["split"]', 'out["same"] = first is urllib.parse\nout["split"]')
    done = subprocess.run([sys.executable, "-S", "-I", "-c", probe], capture_output=True,
                          text=True, check=True)
    out = json.loads(done.stdout)
    assert out["before"][1] is True and out["same"] is True and out["split"] == 1
