"""Submit a job and print its Server-Sent Events (GET /v1/jobs/{id}/events) until it finishes.

    IMAGEGEN_KEY=ig_... python examples/watch_job_sse.py "a lighthouse at dusk"
"""

from __future__ import annotations

import json
import os
import sys

import httpx

API = os.environ.get("IMAGEGEN_API", "http://127.0.0.1:8000")
KEY = os.environ["IMAGEGEN_KEY"]


def main(prompt: str) -> int:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=API, headers=headers, timeout=httpx.Timeout(10, read=300)) as client:
        job = client.post("/v1/jobs", json={"prompt": prompt, "size": "256x256"}).raise_for_status().json()
        print(f"job {job['id']} {job['status']}")
        with client.stream("GET", f"/v1/jobs/{job['id']}/events") as events:
            event_type = ""
            for line in events.iter_lines():
                if line.startswith("event:"):
                    event_type = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    data = json.loads(line.removeprefix("data:"))  # {jobId, status, progressPercent, step, ...}
                    print(f"{event_type or 'message'}: {data['status']} {data['progressPercent']}% {data['step']}")
                    if data.get("terminal"):
                        return 0 if data["status"] == "completed" else 1
    return 1


if __name__ == "__main__":
    sys.exit(main(" ".join(sys.argv[1:]) or "a lighthouse at dusk"))
