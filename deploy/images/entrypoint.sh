#!/bin/sh
# The images' entrypoint: `prizm` with the listen address from HOST and PORT, so the command names
# only what to serve and the HEALTHCHECK (`prizm health-probe 127.0.0.1:$PORT`) probes that port.
#   router [ARGS]               -> prizm router --listen $HOST:$PORT [--config $PRIZM_CONFIG] ARGS
#   serve-provider NAME [ARGS]  -> prizm serve-provider NAME --host $HOST --port $PORT ARGS
#   serve-provider [-ARGS]      -> the same with NAME $PRIZM_PROVIDER (each provider image sets it)
#   anything else               -> prizm ARGS (e.g. health-probe, providers, --help)
# Flags given in ARGS come last and win over these.
set -eu
case "${1:-}" in
  router)
    shift
    if [ -n "${PRIZM_CONFIG:-}" ]; then
      exec prizm router --listen "$HOST:$PORT" --config "$PRIZM_CONFIG" "$@"
    fi
    exec prizm router --listen "$HOST:$PORT" "$@"
    ;;
  serve-provider)
    shift
    case "${1:-}" in
      ''|-*) name=${PRIZM_PROVIDER:-} ;;
      *) name=$1; shift ;;
    esac
    [ -n "$name" ] || { echo "usage: serve-provider NAME [ARGS] (or set PRIZM_PROVIDER)" >&2; exit 2; }
    exec prizm serve-provider "$name" --host "$HOST" --port "$PORT" "$@"
    ;;
  *)
    exec prizm "$@"
    ;;
esac
