"""KServe's own Python model server (``kserve.ModelServer``) serving a versioned sentiment model.

Which version of a model the server loads is a release decision kept outside the server, in a
release file (one line: ``v1``), as a model store's "current" pointer would be. KServe's V2
repository API then does the rest, unchanged: ``POST /v2/repository/models/{name}/load``
(re)loads the model at the version the release file names, ``.../unload`` takes it out of
service (inference then answers 404 ``{"error": "Model with name ... does not exist."}``).

The ground truth (``--events``): a ``version_switched`` line when a load puts another version
in service (and ``resumed`` when the model had been unloaded), a ``stop_effective`` line when
an unload takes it out. Each is stamped inside the
repository call, in the same event-loop step as KServe's own change to its model table, so no
request can be answered between the change and the stamp.

Run with the target's venv: ``.venv/bin/python serve.py --port 8080 --release-file R``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

WORD = re.compile(r"[a-z']+")


def _options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True, help="HTTP port (KServe binds 0.0.0.0)")
    parser.add_argument(
        "--models",
        type=Path,
        default=Path(__file__).parent / "models",
        help="folder of <model>/<version>.json weight files",
    )
    parser.add_argument(
        "--release-file",
        type=Path,
        required=True,
        help="the file naming the version to load; written with --initial-version when absent",
    )
    parser.add_argument("--initial-version", default="v1")
    parser.add_argument("--events", type=Path, help="append ground-truth JSON lines here")
    return parser.parse_args(argv)


class EventLog:
    """One JSON line per real state change, each written whole by one O_APPEND write."""

    def __init__(self, path: Path | None) -> None:
        self._fd = None if path is None else os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    def emit(self, event: str, **details: Any) -> None:
        """Record ``event`` now, on the host's monotonic clock."""
        if self._fd is None:
            return
        record = {"t_ns": time.monotonic_ns(), "event": event, "pid": os.getpid(), **details}
        os.write(self._fd, (json.dumps(record) + "\n").encode())


def main(argv: list[str]) -> int:
    options = _options(argv)
    # kserve parses sys.argv when imported: it must see none of ours.
    sys.argv = sys.argv[:1]
    import kserve
    from kserve.model_repository import ModelRepository
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

    class SentimentModel(kserve.Model):  # type: ignore[misc]
        """A bag-of-words linear classifier: positive when the weighted word sum is above 0."""

        def __init__(self, name: str, weights_file: Path) -> None:
            super().__init__(name)
            self.weights_file = weights_file
            self.version = ""
            self.weights: dict[str, float] = {}
            self.bias = 0.0

        def load(self) -> bool:
            spec = json.loads(self.weights_file.read_text())
            self.version = str(spec["version"])
            self.weights = {str(k): float(v) for k, v in spec["weights"].items()}
            self.bias = float(spec["bias"])
            self.ready = True
            return True

        def label(self, text: str) -> str:
            score = self.bias + sum(self.weights.get(w, 0.0) for w in WORD.findall(text.lower()))
            return "positive" if score > 0 else "negative"

        async def predict(
            self,
            payload: InferRequest,
            headers: dict[str, str] | None = None,
            response_headers: dict[str, str] | None = None,
        ) -> InferResponse:
            texts = [t.decode() if isinstance(t, bytes) else str(t) for t in payload.inputs[0].data]
            labels = [self.label(t) for t in texts]
            output = InferOutput(name="label", shape=[len(labels)], datatype="BYTES", data=labels)
            return InferResponse(
                response_id=payload.id or str(uuid.uuid4()),
                model_name=self.name,
                model_version=self.version,
                infer_outputs=[output],
            )

    class ReleaseRepository(ModelRepository):  # type: ignore[misc]
        """Loads each model at the version its release file names."""

        def __init__(self, models: Path, release_file: Path, events: EventLog) -> None:
            super().__init__(str(models))
            self.release_file = release_file
            self.events = events
            self.serving_began = False

        def released_version(self) -> str:
            return self.release_file.read_text().strip()

        def load(self, name: str) -> bool:
            version = self.released_version()
            folder = Path(self.models_dir) / name
            weights = folder / f"{version}.json"
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", version) or not weights.is_file():
                raise ValueError(f"no release {version!r} of model {name!r} in {folder}")
            model = SentimentModel(name, weights)
            model.load()
            before = self.get_model(name)
            self.update(model)  # one dict assignment: requests see the old model or the new
            old = None if before is None else before.version
            if old != model.version:
                self.events.emit("version_switched", **{"from": old, "to": model.version})
            if before is None and self.serving_began:
                # A load after an unload puts the model back in service: the gate reopens.
                self.events.emit("resumed", model=name)
            return model.ready

        def load_model(self, name: str) -> bool:
            return self.load(name)

        def unload(self, name: str) -> None:
            super().unload(name)
            self.events.emit("stop_effective", reason=f"model {name} unloaded")

    release = options.release_file
    if not release.exists():
        release.write_text(options.initial_version + "\n")
    events = EventLog(options.events)
    repository = ReleaseRepository(options.models, release, events)
    repository.load_models()
    repository.serving_began = True
    events.emit("models_loaded", model_version=repository.released_version())
    server = kserve.ModelServer(
        http_port=options.port,
        registered_models=repository,
        enable_grpc=False,
        enable_latency_logging=False,
        workers=1,
    )
    server.start([])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
