"""Alias of serve.py: ``python3 /abs/path/targets/model-service/model_service_main.py ARGS``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_service.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
