"""Kill a command line mid-job: the resume tests' one way to stop a job as a crash would."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def kill_after_parts(cmd: list[str], parts: Path, count: int = 2, timeout: float = 300
                     ) -> None:
    """Run ``cmd`` with one torch thread and SIGKILL it once ``parts`` holds ``count``
    Parquet parts; fails if it finishes first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + timeout
    while time.time() < deadline and len(list(parts.glob("part-*.parquet"))) < count:
        assert proc.poll() is None, "the job finished before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
