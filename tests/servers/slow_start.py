"""Wait the given seconds, then become the given command: a target whose start-up is slow.

``python slow_start.py 1.5 python serve.py ...``: a model server that loads for 1.5 s first.
"""

from __future__ import annotations

import os
import sys
import time

seconds, *command = sys.argv[1:]
time.sleep(float(seconds))
os.execv(command[0], command)
