"""Background load for the Chaos Toolkit experiment: a canary in the output counts as a failure."""

import re

from locust import FastHttpUser, constant, task

CANARY = re.compile(r"CANARY-[0-9a-f]{8}")


class Generate(FastHttpUser):
    wait_time = constant(0)

    @task
    def generate(self) -> None:
        with self.client.post(
            "/v1/generate", json={"prompt": "the sea"}, catch_response=True
        ) as resp:
            if resp.status_code == 200 and CANARY.search(resp.text or ""):
                resp.failure("harmful: leaked canary")
