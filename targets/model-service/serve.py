"""Launcher: ``python3 /abs/path/targets/model-service/serve.py ARGS`` from any directory."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_service.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
