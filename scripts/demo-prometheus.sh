#!/bin/sh
# make demo-prometheus: a real Prometheus scraping the real demo service
# every second, passflow dev with the demo-prometheus target, and one pass
# followed step by step (15-second windows, about two minutes).
#
# Ports: Prometheus 127.0.0.1:9090, the demo service 127.0.0.1:9100,
# Temporal 127.0.0.1:27233 (and the ports after it), the API 127.0.0.1:28080.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/passflow}
if ! command -v prometheus >/dev/null 2>&1; then
	echo "make demo-prometheus needs Prometheus: install Debian's package (sudo apt-get install prometheus, or make test-deps)" >&2
	exit 2
fi
dir=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
ready() { # URL, what: wait up to 60 s for a 200
	i=0
	until curl -fs -o /dev/null "$1" 2>/dev/null || wget -q -O /dev/null "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 120 ]; then echo "$2 not ready at $1 within 60s; its log: $dir/$3" >&2; tail -20 "$dir/$3" >&2; exit 1; fi
		sleep 0.5
	done
}

DEMO_SERVICE_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export DEMO_SERVICE_SECRET
go build -o "$dir/demo-service" ./examples/demo-service
"$dir/demo-service" --listen 127.0.0.1:9100 --rate 100 >"$dir/demo-service.log" 2>&1 &
pids="$pids $!"
prometheus --config.file=examples/demo-service/prometheus.yml --storage.tsdb.path="$dir/prometheus" \
	--web.listen-address=127.0.0.1:9090 >"$dir/prometheus.log" 2>&1 &
pids="$pids $!"
ready http://127.0.0.1:9100/metrics "the demo service" demo-service.log
ready http://127.0.0.1:9090/-/ready Prometheus prometheus.log
echo "demo service on 127.0.0.1:9100 (100 requests a second), Prometheus on 127.0.0.1:9090 scraping it every second"

"$BIN" dev --db "$dir/temporal.db" --port 27233 --no-ui --http 127.0.0.1:28080 \
	--targets examples/targets/demo-prometheus.yaml >"$dir/dev.log" 2>&1 &
pids="$pids $!"
i=0
until grep -q "passflow dev ready" "$dir/dev.log" 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -gt 240 ]; then echo "passflow dev not ready within 120s; its log:" >&2; cat "$dir/dev.log" >&2; exit 1; fi
	sleep 0.5
done
sed 's/^/  /' "$dir/dev.log"
echo "waiting 30s for Prometheus to hold a baseline to analyze..."
sleep 30
"$BIN" run --address 127.0.0.1:27233 --target demo-prometheus --follow
