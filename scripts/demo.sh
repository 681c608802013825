#!/usr/bin/env bash
# `make run`: start the embedded mesh on loopback, say a sentence into out/speech.wav through it,
# transcribe the WAV back through it, print both, and shut the mesh down cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SENTENCE=${SENTENCE:-"The quick brown fox jumps over the lazy dog."}
mkdir -p out
rm -f out/mesh.out

# An ephemeral port, announced on the router's stdout, so a busy 50051 cannot break the demo.
"$BIN/prizm" up --listen 127.0.0.1:0 >out/mesh.out 2>out/mesh.log &
mesh=$!
stop_mesh() {
  if kill -0 "$mesh" 2>/dev/null; then
    kill -TERM "$mesh"
    if wait "$mesh"; then echo "mesh stopped cleanly"; else echo "mesh exited with status $?" >&2; fi
  fi
}
trap stop_mesh EXIT

for _ in $(seq 300); do
  grep -q '"listening"' out/mesh.out 2>/dev/null && break
  kill -0 "$mesh" 2>/dev/null || { cat out/mesh.log >&2; exit 1; }
  sleep 0.1
done
address=$("$BIN/python" -c 'import json,sys; print(json.loads(open("out/mesh.out").readline())["address"])')
export PRIZM_ROUTER=$address
echo "mesh: router on $address (log in out/mesh.log)"

"$BIN/prizm" run text-to-audio "$SENTENCE" -o out/speech.wav --wait 120
"$BIN/prizm" providers
transcript=$("$BIN/prizm" run audio-to-text out/speech.wav --wait 120)
echo
echo "said:        $SENTENCE"
echo "transcribed: $transcript"
echo "audio:       out/speech.wav"
