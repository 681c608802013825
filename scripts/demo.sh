#!/usr/bin/env bash
# `make run`: start the embedded mesh on loopback, say a sentence into out/speech.wav through it,
# transcribe the WAV back through it, print both, and shut the mesh down cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SENTENCE=${SENTENCE:-"The quick brown fox jumps over the lazy dog."}
OUT=${OUT:-out}
mkdir -p "$OUT"
rm -f "$OUT/mesh.out"

# An ephemeral port, announced on the router's stdout, so a busy 50051 cannot break the demo.
"$BIN/prizm" up --listen 127.0.0.1:0 >"$OUT/mesh.out" 2>"$OUT/mesh.log" &
mesh=$!
stop_mesh() {
  if kill -0 "$mesh" 2>/dev/null; then
    kill -TERM "$mesh"
    if wait "$mesh"; then echo "mesh stopped cleanly"; else echo "mesh exited with status $?" >&2; fi
  fi
}
trap stop_mesh EXIT

for _ in $(seq 300); do
  grep -q '"listening"' "$OUT/mesh.out" 2>/dev/null && break
  kill -0 "$mesh" 2>/dev/null || { cat "$OUT/mesh.log" >&2; exit 1; }
  sleep 0.1
done
address=$("$BIN/python" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["address"])' "$OUT/mesh.out")
export PRIZM_ROUTER=$address
echo "mesh: router on $address (log in $OUT/mesh.log)"

"$BIN/prizm" run text-to-audio "$SENTENCE" -o "$OUT/speech.wav" --provider piper --wait 120
"$BIN/prizm" providers
transcript=$("$BIN/prizm" run audio-to-text "$OUT/speech.wav" --provider pocketsphinx --wait 120)
echo
echo "said:        $SENTENCE"
echo "transcribed: $transcript"
echo "audio:       $OUT/speech.wav"
