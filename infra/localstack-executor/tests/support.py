"""Helpers shared by the plugin tests."""

import os
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path

# Test the source next to these tests, not a possibly older installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

# LocalStack's config module guesses whether it runs in Docker at import time; it does not.
os.environ.setdefault("OVERRIDE_IN_DOCKER", "0")

FIXTURE = Path(__file__).parent / "fixtures" / "bootstrap.py"


def make_code_dir(variant: str = "") -> Path:
    """A directory with an executable `bootstrap` (the fixture runtime)."""
    code_dir = Path(tempfile.mkdtemp(prefix="eventrail-executor-test-"))
    bootstrap = code_dir / "bootstrap"
    bootstrap.write_text(f"#!{sys.executable}\n" + FIXTURE.read_text() + variant)
    bootstrap.chmod(bootstrap.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return code_dir


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    return not pid_alive(pid)
