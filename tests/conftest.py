import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

# Fast chain settings for tests: the logic is the same, the clocks are shorter.
FAST = dict(polling_delay=0.002, detect_interval=0.3, fan_interval=0.05)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=120):
    """``asicdrv ARGS`` as a subprocess; a traceback on stderr fails the test."""
    result = subprocess.run([sys.executable, "-m", "asicdrv", *args], capture_output=True,
                            text=True, timeout=timeout, cwd=ROOT)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def wait_for(predicate, timeout=10.0):
    """True once ``predicate()`` is, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
