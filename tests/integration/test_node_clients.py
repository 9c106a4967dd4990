"""Node.js clients with default settings through seawall: node-redis v4 and ioredis v5.

Each script in node/ checks every reply itself and exits non-zero on any mismatch. node_modules is
installed with `npm ci` from the committed package-lock.json when it is missing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"


@pytest.mark.parametrize("script", ["node_redis_v4.mjs", "ioredis_v5.mjs"])
def test_node_client(node_modules, seawall, direct_client, script):
    proc = subprocess.run([node_modules, script, str(seawall.port)], cwd=NODE_DIR,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip().endswith(": ok"), proc.stdout
    # The writes really reached Redis.
    assert direct_client.dbsize() > 2000
