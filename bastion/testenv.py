"""pytest plugin loaded before Django starts (``-p bastion.testenv`` in pyproject.toml).

pytest-django imports the settings before any conftest runs, so the environment the test suite
needs has to be in place earlier: a throw-away data dir (never the developer's ``var/``) and tasks
that run inline, so a test sees a task's effect without a worker.
"""

import atexit
import os
import shutil
import tempfile

if "BASTION_DATA_DIR" not in os.environ:
    _data_dir = tempfile.mkdtemp(prefix="bastion-test-")
    os.environ["BASTION_DATA_DIR"] = _data_dir
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)
os.environ.setdefault("BASTION_TASKS_BACKEND", "immediate")
# No DNS here: DKIM is checked in the tests with an injected lookup, never against the network.
os.environ.setdefault("BASTION_MAIL_DKIM_CHECK", "false")
