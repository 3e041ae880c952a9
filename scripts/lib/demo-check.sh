# `scripts/demo --check`: the README's first command as a new user runs it, checked end to end.
# Source it; do not run it.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

demo_check() {
    local binary=$1
    local scratch
    scratch=$(mktemp -d /tmp/portcullis-demo-check.XXXXXX)
    local state=$scratch/state gateway identity admin provider
    gateway=$(free_port); identity=$(free_port); admin=$(free_port); provider=$(free_port)
    log "demo check: portcullis up --identity-provider from an empty state directory ($state), gateway on port $gateway"
    "$binary" up --state "$state" --gateway-port "$gateway" --identity-port "$identity" --admin-port "$admin" \
        --identity-provider --identity-provider-port "$provider" >"$scratch/stdout" 2>"$scratch/stderr" &
    local up=$!
    local deadline=$((SECONDS + 300))
    until grep -q "Portcullis is up" "$scratch/stdout" && curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null; do
        if ! kill -0 "$up" 2>/dev/null; then
            cat "$scratch/stderr" >&2
            die "portcullis up stopped before it was up"
        fi
        if [ $SECONDS -ge $deadline ]; then
            kill -INT "$up" 2>/dev/null || true
            cat "$scratch/stderr" >&2
            die "portcullis up was not up within 300 s"
        fi
        sleep 0.5
    done
    log "demo check: up after $((SECONDS + 300 - deadline)) s; walking the quickstart"
    local failed=""
    demo_check_walkthrough "$binary" "$state" "$gateway" || failed=yes

    log "demo check: Ctrl-C"
    kill -INT "$up"
    local status=0
    wait "$up" || status=$?
    [ "$status" -eq 0 ] || { cat "$scratch/stderr" >&2; die "portcullis up exited with status $status after Ctrl-C"; }
    local left
    left=$(pgrep -af -- "$state" || true)
    [ -z "$left" ] || die "still running after Ctrl-C: $left"
    local data
    data=$(cat "$state/pg/location")
    [ ! -e "$data/postmaster.pid" ] || die "PostgreSQL in $data still runs after Ctrl-C"
    [ -z "$failed" ] || { cat "$scratch/stderr" >&2; die "the quickstart walkthrough failed"; }
    grep -q "portcullis up: initialising a PostgreSQL cluster" "$scratch/stderr" || die "no progress was reported while starting"
    rm -rf "$(dirname "$data")" "$scratch"
    log "demo check: passed (up, walkthrough, Ctrl-C, nothing left running)"
}

# Steps 1-4 (with the audit verify of step 3), 7 and 8 of docs/quickstart.md, with the doc's own commands on this run's ports.
demo_check_walkthrough() {
    local binary=$1 state=$2 port=$3
    local CA=$state/certs/ca-bundle.crt
    local TOKEN body request_id
    TOKEN=$(curl -s --cacert "$CA" "https://localhost:$port/v1/login" -H 'content-type: application/json' \
        -d '{"login":"dana","password":"demo-dispatcher-2026"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') \
        || { echo "step 1: no token for dana" >&2; return 1; }
    body=$(curl -s --cacert "$CA" "https://shipments.localhost:$port/v1/shipments?status=in_transit" -H "authorization: Bearer $TOKEN")
    echo "$body" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["caller"]["sub"] == "dana" and d["shipments"], d' \
        || { echo "step 1: shipments answered $body" >&2; return 1; }
    body=$(curl -s --cacert "$CA" --cert "$state/certs/billing.crt" --key "$state/certs/billing.key" \
        "https://shipments.localhost:$port/v1/shipments?status=planned")
    echo "$body" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["caller"]["kind"] == "service" and d["caller"]["sub"] == "billing", d' \
        || { echo "step 2: shipments answered the billing certificate $body" >&2; return 1; }
    body=$(curl -s -w '\n%{http_code}' --cacert "$CA" "https://billing.localhost:$port/v1/invoices" -H "authorization: Bearer $TOKEN")
    [ "$(echo "$body" | tail -n 1)" = 403 ] || { echo "step 3: billing answered $body" >&2; return 1; }
    request_id=$(echo "$body" | head -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')
    local record="" tries=0
    until echo "$record" | grep -q '"outcome":"deny"'; do
        [ $tries -lt 50 ] || { echo "step 3: no audit record for $request_id: $record" >&2; return 1; }
        tries=$((tries + 1))
        sleep 0.2
        record=$("$binary" audit search --config "$state/portcullis.yaml" --request-id "$request_id" 2>&1) || true
    done
    echo "$record" | grep -q '"route":"billing"' || { echo "step 3: audit record $record" >&2; return 1; }
    local verified
    verified=$("$binary" audit verify --config "$state/portcullis.yaml" --anchors "$state/audit-anchors.jsonl" 2>&1) \
        || { echo "step 3: audit verify failed: $verified" >&2; return 1; }
    echo "$verified" | grep -q "signed checkpoints checked against the key archive.*anchors held: intact" \
        || { echo "step 3: audit verify said $verified" >&2; return 1; }
    demo_check_browser "$state" "$port" && demo_check_identity_provider "$state" "$port" && demo_check_grpc "$state" "$port"
}

# Step 4 with curl as the browser: shipments leads to the one sign-in form, on auth.localhost;
# after it, fleet opens through single sign-on with no second form.
demo_check_browser() {
    local state=$1 port=$2
    local jar=$state/check-cookies.txt page csrf next
    local browser=(-s -L --cacert "$state/certs/ca-bundle.crt" -b "$jar" -c "$jar" -H 'accept: text/html')
    page=$(curl "${browser[@]}" "https://shipments.localhost:$port/v1/shipments")
    csrf=$(echo "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
    next=$(echo "$page" | sed -n 's/.*name="next" value="\([^"]*\)".*/\1/p' | head -n 1 | sed 's/&amp;/\&/g')
    [ -n "$csrf" ] && [ -n "$next" ] || { echo "step 4: shipments did not lead to the sign-in form: $page" >&2; return 1; }
    page=$(curl "${browser[@]}" "https://auth.localhost:$port/.portcullis/login" --data-urlencode login=dana \
        --data-urlencode password=demo-dispatcher-2026 --data-urlencode "csrf=$csrf" --data-urlencode "next=$next")
    echo "$page" | grep -q '"SHP-' || { echo "step 4: signing in did not lead back to shipments: $page" >&2; return 1; }
    page=$(curl "${browser[@]}" "https://fleet.localhost:$port/v1/vehicles")
    echo "$page" | grep -q '"VEH-' || { echo "step 4: fleet did not open by single sign-on: $page" >&2; return 1; }
}

# Step 7 with curl as the browser: the sign-in page's "Company SSO" button, the provider's own
# form, and back on shipments as nadia, a dispatcher through her provider group.
demo_check_identity_provider() {
    local state=$1 port=$2
    local jar=$state/check-provider-cookies.txt page start csrf next
    local browser=(-s -L --cacert "$state/certs/ca-bundle.crt" -b "$jar" -c "$jar" -H 'accept: text/html')
    page=$(curl "${browser[@]}" "https://shipments.localhost:$port/v1/shipments")
    start=$(echo "$page" | sed -n 's/.*href="\(\/.portcullis\/federation\/company\/start[^"]*\)".*/\1/p' | head -n 1 | sed 's/&amp;/\&/g')
    [ -n "$start" ] || { echo "step 7: the sign-in page offers no Company SSO button: $page" >&2; return 1; }
    page=$(curl "${browser[@]}" -w '\n%{url_effective}' "https://auth.localhost:$port$start")
    local form_url
    form_url=$(echo "$page" | tail -n 1)
    csrf=$(echo "$page" | sed -n 's/.*name="csrfmiddlewaretoken" value="\([^"]*\)".*/\1/p' | head -n 1)
    next=$(echo "$page" | sed -n 's/.*name="next" value="\([^"]*\)".*/\1/p' | head -n 1 | sed 's/&amp;/\&/g')
    [ -n "$csrf" ] && [ -n "$next" ] || { echo "step 7: no sign-in form at the identity provider ($form_url): $page" >&2; return 1; }
    page=$(curl "${browser[@]}" "${form_url%%\?*}" --data-urlencode username=nadia --data-urlencode password=provider-dispatch-2026 \
        --data-urlencode "csrfmiddlewaretoken=$csrf" --data-urlencode "next=$next")
    echo "$page" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["caller"]["sub"] == "nadia" and d["caller"]["roles"] == ["dispatcher"] and d["shipments"], d' \
        || { echo "step 7: signing in at the identity provider did not lead to shipments as nadia: $page" >&2; return 1; }
}

# Step 8: the gRPC fleet service through the gateway with grpcio (deploy/demo/fleet_client.py):
# dana locates a truck, drew may not watch the fleet, and dana's open Watch stream ends with
# UNAUTHENTICATED once her token is signed out.
demo_check_grpc() {
    local state=$1 port=$2
    local CA=$state/certs/ca-bundle.crt out token drew
    local fleet=("$PORTCULLIS_PYTHON" deploy/demo/fleet_client.py --gateway "127.0.0.1:$port" --ca "$CA")
    login() {
        curl -s --cacert "$CA" "https://localhost:$port/v1/login" -H 'content-type: application/json' \
            -d "{\"login\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
    }
    token=$(login dana demo-dispatcher-2026) && drew=$(login drew demo-driver-2026) || { echo "step 8: no tokens" >&2; return 1; }
    out=$("${fleet[@]}" --token "$token" locate TRK-101 2>&1) && echo "$out" | grep -q "^TRK-101 .*by telematics" \
        || { echo "step 8: locate answered: $out" >&2; return 1; }
    out=$("${fleet[@]}" --token "$drew" watch --count 1 2>&1) && { echo "step 8: drew could watch: $out" >&2; return 1; }
    echo "$out" | grep -q "^PERMISSION_DENIED" || { echo "step 8: drew's watch answered: $out" >&2; return 1; }
    "${fleet[@]}" --token "$token" watch --vehicle TRK-102 >"$state/check-watch.txt" 2>&1 &
    local watch=$! tries=0
    until grep -q "^TRK-102" "$state/check-watch.txt"; do
        [ $tries -lt 100 ] || { kill "$watch"; echo "step 8: the watch stream never started: $(cat "$state/check-watch.txt")" >&2; return 1; }
        tries=$((tries + 1)); sleep 0.1
    done
    curl -s --cacert "$CA" -X POST "https://localhost:$port/v1/logout" -H "authorization: Bearer $token" >/dev/null
    tries=0
    while kill -0 "$watch" 2>/dev/null; do
        [ $tries -lt 50 ] || { kill "$watch"; echo "step 8: the watch stream outlived the sign-out by 5 s" >&2; return 1; }
        tries=$((tries + 1)); sleep 0.1
    done
    grep -q "^UNAUTHENTICATED: access revoked" "$state/check-watch.txt" \
        || { echo "step 8: the watch stream ended with: $(tail -n 1 "$state/check-watch.txt")" >&2; return 1; }
}
