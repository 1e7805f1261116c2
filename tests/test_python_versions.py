"""setup.cfg promises Python 3.10+: nothing in the package or the experiment may need newer.

vermin reads every module's syntax and standard-library use (a `tomllib` import without its
`tomli` fallback, a `match` on 3.9...) and fails on the first that needs more than 3.10. It
was also checked by hand in a Python 3.10 environment: every module imports, `cogit-log`
runs, a campaign logs."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_setup_cfg_and_the_code_agree_on_the_oldest_python():
    oldest = re.search(r"python_requires = >=(\d+\.\d+)", (REPO / "setup.cfg").read_text())[1]
    assert oldest == "3.10"
    done = subprocess.run([str(Path(sys.executable).with_name("vermin")), f"-t={oldest}-", "--violations",
                           "--eval-annotations", "--no-tips", "cogit_tracker", "pipelines"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
