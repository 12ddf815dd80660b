#!/usr/bin/env bash
# Starts the demo provider, switchboard (control plane + ext_proc) and Envoy,
# the same three processes docker-compose.yaml runs. Ctrl-C stops them all.
set -euo pipefail
: "${ENVOY:?}" "${SWITCHBOARD:?}" "${CONFIG:?}"
port="${SWITCHBOARD_PORT:-8080}"
logdir="${LOGDIR:-$(mktemp -d -t switchboard.XXXXXX)}"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$SWITCHBOARD" validate --config "$CONFIG"
"$SWITCHBOARD" demo --listen 127.0.0.1:9100 >"$logdir/demo.log" 2>&1 & pids+=($!)
"$SWITCHBOARD" serve --config "$CONFIG" --port "$port" >"$logdir/switchboard.log" 2>&1 & pids+=($!)
"$SWITCHBOARD" bootstrap >"$logdir/bootstrap.yaml"
# Envoy's stdout carries the JSON access log; flushed every second here.
"$ENVOY" -c "$logdir/bootstrap.yaml" --log-level warn --file-flush-interval-msec 1000 >"$logdir/envoy.log" 2>&1 & pids+=($!)

for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; then break; fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a process exited early; logs in $logdir" >&2; tail -n 20 "$logdir"/*.log >&2; exit 1; }
  done
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/v1/models" >/dev/null || { echo "gateway did not come up; logs in $logdir" >&2; exit 1; }

cat <<MSG
Switchboard is up on http://localhost:$port (logs in $logdir). Try:

  curl -N http://localhost:$port/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"demo","stream":true,"messages":[{"role":"user","content":"Hello"}]}'

  curl http://localhost:$port/v1/models

  curl http://localhost:$port/v1/images/generations -H 'content-type: application/json' \\
    -d '{"model":"demo-image","prompt":"a red fox in the snow"}'

  curl http://localhost:$port/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"demo","plugins":[{"id":"web"}],"messages":[{"role":"user","content":"gateway news"}]}'

  curl http://localhost:$port/v1/messages -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\
    -d '{"model":"demo","max_tokens":200,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"gateway news"}]}'

Models: demo (OpenAI schema), demo-claude (Anthropic schema, translated),
demo-image (POST /v1/images/generations and /v1/images/edits); the web plugin searches the demo backend;
real providers are enabled when OPENAI_API_KEY / ANTHROPIC_API_KEY are set.
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
echo "a process exited; logs in $logdir" >&2
exit 1
