"""The PostgreSQL add-on image's shell scripts, checked by bash -n."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_image_scripts_are_valid_bash():
    for script in ("docker-entrypoint.sh", "harness-pg"):
        subprocess.run(["bash", "-n", str(ROOT / "images" / "postgres" / script)], check=True)
    subprocess.run(["bash", "-n", str(ROOT / "images" / "build-addons.sh")], check=True)
