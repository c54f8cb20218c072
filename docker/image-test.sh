#!/bin/bash
# image-test.sh — `make image-test`: the built image (localhost/braid:latest)
# and the Kubernetes manifests (docker/k8s/), run with podman on this machine.
#
#   1. the image's settings (non-root user, ports, stop signal, healthcheck);
#   2. a pod with the published loopback ports 127.0.0.1:HTTP -> 8080 and
#      127.0.0.1:ADMIN -> 9100 (slirp4netns: the host side stays on loopback)
#      and the image as it is, alone (read-only root, the baked-in seed with
#      its SQLite users: no other server): both seed requests, /healthz,
#      the HEALTHCHECK, an env twin (BRAID_WORKERS), the JSON log lines;
#   3. the same pod, a service directory mounted over /srv/braid (the seed,
#      a function importing the stdlib modules functions may use, a slow
#      workflow): `podman stop` (SIGTERM) during a slow request, which must
#      still complete with 200, and the container exits 0;
#   4. docker/k8s/ played with `podman kube play --network none` (loopback
#      only; requests through `podman exec ... curl`): the seed requests,
#      BRAID_WORKERS from the manifest, the securityContext in effect.
#
# Everything it makes is named braid-image-test-* (pod, containers), or is
# what the manifests name (pod braid-pod-0, volumes braid-*): removed at the
# end, also on failure or interruption.  The image and the base stay.
# Prints "image-test: N passed, N failed" last; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

IMAGE=${BRAID_IMAGE:-localhost/braid:latest}
P=braid-image-test
POD=$P-pod
KUBE_POD=braid-pod-0                 # podman kube play's name for Deployment "braid"
KUBE_CTR=$KUBE_POD-braid
KUBE_VOLUMES=(braid-apis braid-datasources braid-functions braid-workflows braid-tmp)
TMP=$(mktemp -d /tmp/braid-image-test.XXXXXX)
chmod 0755 "$TMP"                    # the container's user reads the mounted directory
PODMAN_LOG=$TMP/podman.log           # podman's own chatter (no systemd here for healthcheck timers)

passed=0 failed=0
ok()  { echo "ok   - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
# expect NAME GOT WANT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }
# check NAME COMMAND...: passes when the command succeeds
check() { local name=$1; shift; if "$@" >>"$PODMAN_LOG" 2>&1; then ok "$name"; else bad "$name"; fi; }
pm() { podman "$@" 2>>"$PODMAN_LOG"; }

cleanup() {
    local status=$?
    if [ "$failed" != 0 ] || [ "$status" != 0 ]; then
        for c in $P-seed $P-drain $KUBE_CTR; do
            podman container exists "$c" 2>/dev/null || continue
            echo "---- logs of $c (last 20 lines)"; podman logs --tail 20 "$c" 2>&1
        done
        echo "---- podman (last 20 lines)"; tail -20 "$PODMAN_LOG"
    fi
    podman pod rm -f -t 2 "$POD" >/dev/null 2>&1
    podman rm -f -t 2 $P-seed $P-drain >/dev/null 2>&1
    [ -f "$TMP/kube.yaml" ] && podman kube down "$TMP/kube.yaml" >/dev/null 2>&1
    podman pod rm -f -t 2 "$KUBE_POD" >/dev/null 2>&1
    podman volume rm -f "${KUBE_VOLUMES[@]}" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json_field() { python3 -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[int(k)] if isinstance(v, list) else v[k]
print(len(v) if isinstance(v, list) else v)' "$1"; }

# wait_ok NAME COMMAND...: retry the command for up to 30 s
wait_ok() {
    local name=$1; shift
    for _ in $(seq 150); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    bad "$name: not ready after 30 s"; return 1
}

ADMIN_JSON='{"user_id":1,"name":"alice","role":"admin","vip":true}'
USER_JSON='{"user_id":2,"name":"bob","role":"user","vip":false}'

# Leftovers of an interrupted earlier run.
podman pod rm -f -t 0 "$POD" "$KUBE_POD" >/dev/null 2>&1
podman rm -f -t 0 $P-seed $P-drain >/dev/null 2>&1
podman volume rm -f "${KUBE_VOLUMES[@]}" >/dev/null 2>&1

if ! podman image exists "$IMAGE"; then
    bad "$IMAGE exists (make image)"
    echo "image-test: $passed passed, $failed failed"; exit 1
fi

# ---- 1. the image's settings --------------------------------------------------
echo "== image $IMAGE"
expect "runs as the numeric non-root user 10001" "$(pm image inspect --format '{{.Config.User}}' "$IMAGE")" "10001:10001"
expect "stop signal SIGTERM" "$(pm image inspect --format '{{.Config.StopSignal}}' "$IMAGE")" "SIGTERM"
expect "exposes 8080 and 9100" "$(pm image inspect --format '{{json .Config.ExposedPorts}}' "$IMAGE")" '{"8080/tcp":{},"9100/tcp":{}}'
expect "HEALTHCHECK on the admin /healthz" "$(pm image inspect --format '{{json .HealthCheck.Test}}' "$IMAGE")" \
    '["CMD","/usr/local/bin/braid-entrypoint","healthcheck"]'

# ---- 2. the image as it is, in a pod with published loopback ports ------------
HTTP=$(free_port); ADMIN=$(free_port)
while [ "$ADMIN" = "$HTTP" ]; do ADMIN=$(free_port); done
echo "== podman run: pod $POD, 127.0.0.1:$HTTP -> 8080, 127.0.0.1:$ADMIN -> 9100"
pm pod create --name "$POD" --network slirp4netns \
    -p "127.0.0.1:$HTTP:8080" -p "127.0.0.1:$ADMIN:9100" >/dev/null || bad "pod create"
pm run -d --pod "$POD" --name $P-seed --read-only -e BRAID_WORKERS=3 "$IMAGE" >/dev/null || bad "run the image"

healthz() { curl -fsS --max-time 2 "http://127.0.0.1:$ADMIN/healthz"; }
if wait_ok "the image's /healthz" healthz; then
    expect "/healthz on the published admin port" "$(healthz)" "ok"
    expect "uid 1 -> admin" "$(curl -sS --max-time 5 "http://127.0.0.1:$HTTP/user_lookup?uid=1")" "$ADMIN_JSON"
    expect "uid 2 -> user" "$(curl -sS --max-time 5 "http://127.0.0.1:$HTTP/user_lookup?uid=2")" "$USER_JSON"
    expect "POST uid 1 (JSON body) -> admin" "$(curl -sS --max-time 5 -H 'Content-Type: application/json' \
        -d '{"uid":1}' "http://127.0.0.1:$HTTP/user_lookup")" "$ADMIN_JSON"
    expect "X-Request-Id passes through nginx" "$(curl -sS --max-time 5 -o /dev/null -H 'X-Request-Id: image-test-42' \
        -w '%header{x-request-id}' "http://127.0.0.1:$HTTP/user_lookup?uid=2")" "image-test-42"
    expect "BRAID_WORKERS=3 is taken (/status)" "$(curl -sS --max-time 2 "http://127.0.0.1:$ADMIN/status" | json_field workers)" "3"
    check "HEALTHCHECK passes (podman healthcheck run)" podman healthcheck run $P-seed
    expect "processes run as uid 10001" "$(pm exec $P-seed id -u)" "10001"
    check "read-only root: a write outside /tmp fails" bash -c \
        "podman exec $P-seed touch /srv/braid/x 2>&1 | grep -q 'Read-only file system'"
    check "the seed's users come from its baked-in SQLite database" bash -c \
        "podman exec $P-seed test -s /srv/braid/data/users.db"
    check "a JSON log line per request on stderr" bash -c \
        "podman logs $P-seed 2>&1 | grep -q '\"workflow\":\"user_lookup\",\"status\":200'"
    pm stop -t 10 $P-seed >/dev/null
    expect "idle stop: exit status 0" "$(pm inspect --format '{{.State.ExitCode}}' $P-seed)" "0"
fi
pm rm -f $P-seed >/dev/null

# ---- 3. SIGTERM during a slow request ------------------------------------------
echo "== podman stop during a slow request (service directory mounted over /srv/braid)"
cp -r examples/seed "$TMP/svc"
cat > "$TMP/svc/functions/slow.py" <<'EOF'
# Sleeps START.ms milliseconds: the image test's request in flight at SIGTERM.
import json
import time


def handler(event, context):
    ms = json.loads(event)["ms"]
    time.sleep(ms / 1000)
    return {"slept_ms": ms}
EOF
echo '{"timeout_ms": 10000}' > "$TMP/svc/functions/slow.json"
cat > "$TMP/svc/workflows/slow.json" <<'EOF'
{"path": "/slow", "methods": ["GET"], "timeout_ms": 10000,
 "params": {"ms": {"type": "int", "required": true}},
 "nodes": [{"id": "F", "type": "function", "function": "slow"}],
 "edges": [["START", "F"], ["F", "END"]]}
EOF
cat > "$TMP/svc/functions/stdlib.py" <<'EOF'
# The modules a function may import, from the image's Python stdlib.
import json
import math
import random
import re
import time


def handler(event, context):
    return {"sqrt": math.sqrt(16), "match": bool(re.match(r"^a+$", "aaa")),
            "json": json.dumps([1]), "clock": time.time() > 0, "rand": 0 <= random.random() < 1}
EOF
cat > "$TMP/svc/workflows/stdlib.json" <<'EOF'
{"path": "/stdlib", "methods": ["GET"],
 "nodes": [{"id": "F", "type": "function", "function": "stdlib"}],
 "edges": [["START", "F"], ["F", "END"]]}
EOF
chmod -R a+rX "$TMP/svc"
pm run -d --pod "$POD" --name $P-drain --read-only -v "$TMP/svc:/srv/braid:ro" -e BRAID_WORKERS=2 \
    "$IMAGE" >/dev/null || bad "run the image with a mounted service directory"
busy() { curl -sS --max-time 2 "http://127.0.0.1:$ADMIN/status" | grep -q '"state": *"busy"'; }
if wait_ok "the mounted directory's /healthz" healthz; then
    expect "uid 1 -> admin (mounted directory)" "$(curl -sS --max-time 5 "http://127.0.0.1:$HTTP/user_lookup?uid=1")" "$ADMIN_JSON"
    expect "a function imports json, math, random, re, time" "$(curl -sS --max-time 5 "http://127.0.0.1:$HTTP/stdlib")" \
        '{"sqrt":4.0,"match":true,"json":"[1]","clock":true,"rand":true}'
    curl -sS --max-time 20 -o "$TMP/slow.body" -w '%{http_code}' "http://127.0.0.1:$HTTP/slow?ms=3000" \
        > "$TMP/slow.code" 2>>"$PODMAN_LOG" &
    slow_pid=$!
    wait_ok "the slow request reaches a worker" busy
    t0=$(date +%s.%N)
    pm stop -t 20 $P-drain >/dev/null
    t1=$(date +%s.%N)
    wait "$slow_pid"
    expect "the request in flight at SIGTERM completes: 200" "$(cat "$TMP/slow.code")" "200"
    expect "... with its answer" "$(cat "$TMP/slow.body")" '{"slept_ms":3000}'
    expect "drained: exit status 0" "$(pm inspect --format '{{.State.ExitCode}}' $P-drain)" "0"
    took=$(python3 -c "print('%.1f' % ($t1 - $t0))")
    check "podman stop took ${took} s: it waited for the request, not for its 20 s timeout" \
        python3 -c "import sys; sys.exit(not 1 < $took < 15)"
    check "braid logged its drain and stop" bash -c \
        "podman logs $P-drain 2>&1 | grep -q '\"event\":\"drain\"' && podman logs $P-drain 2>&1 | grep -q '\"event\":\"stop\"'"
    check "after the stop nothing answers on the HTTP port" bash -c \
        "! curl -fsS --max-time 3 -o /dev/null http://127.0.0.1:$HTTP/user_lookup?uid=1"
fi
pm pod rm -f -t 2 "$POD" >/dev/null

# ---- 4. the Kubernetes manifests with podman kube play -------------------------
echo "== podman kube play docker/k8s (network none: loopback only)"
check "docker/k8s/configmaps.yaml is docker/k8s/configmaps.py examples/seed" \
    bash -c "python3 docker/k8s/configmaps.py examples/seed | diff -u docker/k8s/configmaps.yaml -"
# One multi-document file, in the order kustomization.yaml lists them; kube
# play takes the ConfigMaps and the Deployment, and passes over the Service
# and the HorizontalPodAutoscaler (a cluster's).
for f in configmaps deployment service hpa; do echo "---"; cat "docker/k8s/$f.yaml"; done > "$TMP/kube.yaml"
# From $TMP: kube play looks for ./IMAGE_NAME/Containerfile (to build the
# image) in the current directory, and fails on the ./braid binary here.
if (cd "$TMP" && pm kube play --build=false --network none kube.yaml >/dev/null); then
    ok "podman kube play of docker/k8s"
    kexec() { podman exec "$KUBE_CTR" "$@"; }
    if wait_ok "the kube pod's /healthz" kexec curl -fsS --max-time 2 http://127.0.0.1:9100/healthz; then
        expect "kube: uid 1 -> admin" "$(kexec curl -sS --max-time 5 'http://127.0.0.1:8080/user_lookup?uid=1' 2>>"$PODMAN_LOG")" "$ADMIN_JSON"
        expect "kube: uid 2 -> user" "$(kexec curl -sS --max-time 5 'http://127.0.0.1:8080/user_lookup?uid=2' 2>>"$PODMAN_LOG")" "$USER_JSON"
        expect "kube: BRAID_WORKERS from the manifest (/status)" \
            "$(kexec curl -sS --max-time 2 http://127.0.0.1:9100/status 2>>"$PODMAN_LOG" | json_field workers)" "4"
        expect "kube: service directory from the ConfigMaps" "$(kexec ls /srv/braid/workflows 2>>"$PODMAN_LOG")" "user_lookup.json"
        expect "kube: data source from its ConfigMap" "$(kexec ls /srv/braid/datasources 2>>"$PODMAN_LOG")" "app.json"
        expect "kube: runAsUser 10001" "$(kexec id -u 2>>"$PODMAN_LOG")" "10001"
        expect "kube: allowPrivilegeEscalation false (NoNewPrivs), a seccomp filter, no capabilities" \
            "$(kexec grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/1/status 2>>"$PODMAN_LOG" | tr -s ' \t' ' ' | tr '\n' ' ')" \
            "CapEff: 0000000000000000 NoNewPrivs: 1 Seccomp: 2 "
        check "kube: readOnlyRootFilesystem" bash -c \
            "podman exec $KUBE_CTR touch /srv/x 2>&1 | grep -q 'Read-only file system'"
    fi
    check "kube: the pod stops (SIGTERM to each container)" podman pod stop -t 20 "$KUBE_POD"
    expect "kube: the container exits with status 0" "$(pm ps -a --filter "pod=$KUBE_POD" \
        --format '{{.Names}}={{.ExitCode}}' | grep -v infra | sort | tr '\n' ' ')" \
        "$KUBE_CTR=0 "
    check "podman kube down" podman kube down "$TMP/kube.yaml"
else
    bad "podman kube play of docker/k8s"
fi

echo "image-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
