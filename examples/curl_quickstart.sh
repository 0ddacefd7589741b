#!/usr/bin/env sh
# Submit a job, wait for it, download its image: curl and python3 (for JSON) only.
set -eu
API="${IMAGEGEN_API:-http://127.0.0.1:8000}"
KEY="${IMAGEGEN_KEY:?set IMAGEGEN_KEY to an API key (imagegen keys create --user you)}"
auth="Authorization: Bearer $KEY"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

curl -fsS -H "$auth" "$API/v1/credits"; echo
JOB=$(curl -fsS -H "$auth" -H 'content-type: application/json' \
      -d '{"prompt": "a lighthouse at dusk", "size": "256x256"}' "$API/v1/jobs" | json '["id"]')
echo "job $JOB"
while :; do
  STATUS=$(curl -fsS -H "$auth" "$API/v1/jobs/$JOB" | json '["status"]')
  case "$STATUS" in completed|failed|cancelled) break ;; esac
  sleep 1
done
echo "status $STATUS"
[ "$STATUS" = completed ] || exit 1
IMAGE=$(curl -fsS -H "$auth" "$API/v1/jobs/$JOB" | json '["images"][0]["id"]')
URL=$(curl -fsS -H "$auth" "$API/v1/images/$IMAGE" | json '["url"]')
curl -fsS -o "$JOB.png" "$URL"            # a signed, expiring URL: no key needed
echo "wrote $JOB.png"
