"""The load benchmark's CPU budget (bench.load.infra.CpuLimit) really holds
a process to its share of a core, and leaves nothing behind."""
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.load.infra import CpuLimit

SPIN = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end:\n    pass\n"


def cgroups_writable() -> bool:
    return os.geteuid() == 0 and (Path("/sys/fs/cgroup/cgroup.controllers").exists()
                                  or os.access("/sys/fs/cgroup/cpu", os.W_OK))


@pytest.mark.skipif(not cgroups_writable(), reason="needs root and a writable cgroup cpu controller")
def test_a_busy_process_gets_its_budget_and_no_more():
    limit = CpuLimit(f"kefu-test-{os.getpid()}", 0.2)
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        limit.apply(spinner.pid)
        process = psutil.Process(spinner.pid)
        before = sum(process.cpu_times()[:2])
        time.sleep(2.0)
        used = sum(process.cpu_times()[:2]) - before
        assert 0.2 < used < 0.6  # 0.2 core for 2 s is 0.4 s; unlimited it would take about 2 s
        assert limit.throttled_s() > 0.5
    finally:
        spinner.kill()
        spinner.wait()
        limit.release()
    assert not limit.dir.exists()
