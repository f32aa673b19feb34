"""Docker tests run against a real engine through the docker CLI; they skip only when no
engine is reachable and ``GOVDRILL_REQUIRE_DOCKER`` is unset.

The Docker SDK is never imported in the pytest process: importing it (or requests, urllib3)
before locust in one process breaks gevent's monkey-patching, and other test folders may
import locust. The harness under test runs as a subprocess, as a user would run it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import yaml

from tests.docker.docker_cli import LABEL_OWNER, TARGET_DIR, docker, engine_problem, labelled


@pytest.fixture(scope="session", autouse=True)
def drill_docker_images() -> Iterator[dict[str, str]]:
    """A reachable engine and the target's images, built once per session (later builds by
    the harness hit the layer cache). Skips without an engine unless GOVDRILL_REQUIRE_DOCKER."""
    problem = engine_problem()
    if problem is not None:
        if os.environ.get("GOVDRILL_REQUIRE_DOCKER"):
            pytest.fail(f"GOVDRILL_REQUIRE_DOCKER is set but {problem}", pytrace=False)
        pytest.skip(f"{problem} (set GOVDRILL_REQUIRE_DOCKER=1 to make this a failure)")
    spec = yaml.safe_load((TARGET_DIR / "target.yaml").read_text())["sandboxes"]["docker"]
    base = os.environ.get("GOVDRILL_BASE_IMAGE") or spec["base_image"]
    images = {}
    for tag, stage in spec["versions"].items():
        image = f"{spec['image']}:{tag}"
        built = docker(
            "build", "-q", "--target", stage, "--build-arg", f"BASE_IMAGE={base}",
            "--label", f"{LABEL_OWNER}=govdrill", "-t", image, str(TARGET_DIR),
            timeout=600,
        )  # fmt: skip
        if built.returncode != 0:
            problem = (
                f"cannot build {image} on base {base!r} (set GOVDRILL_BASE_IMAGE to a local"
                " image with python3 >= 3.11; see README 'Docker and compose')"
            )
            if os.environ.get("GOVDRILL_REQUIRE_DOCKER"):
                pytest.fail(f"{problem}:\n{built.stderr[-2000:]}", pytrace=False)
            pytest.skip(f"{problem} (set GOVDRILL_REQUIRE_DOCKER=1 to make this a failure)")
        images[tag] = image
    yield images
    leftovers = labelled("container", f"{LABEL_OWNER}=govdrill")
    assert leftovers == [], f"containers of ours left after the docker tests: {leftovers}"
