import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

# Fast chain settings for tests: the logic is the same, the clocks are shorter.
FAST = dict(polling_delay=0.002, detect_interval=0.3, fan_interval=0.05)
