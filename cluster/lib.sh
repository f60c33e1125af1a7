# Shared by the cluster scripts (sourced, not run).

# spawn_detached LOG CMD...: starts CMD in the background with stdin from /dev/null, output
# appended to LOG, and every other inherited file descriptor closed, so the node never holds
# a pipe or socket of whoever started the script (a test runner waiting for the script's end
# would otherwise wait for the node too). Prints the pid.
spawn_detached() {
    local log="$1"; shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
        done
        exec nohup "$@" </dev/null >>"$log" 2>&1
    ) &
    echo $!
}

# node_url PORT: the base URL of a local node: https when the cluster was started with
# `cluster/up --tls` (recorded in $state/scheme), else http. Needs $state.
node_url() {
    local scheme=http
    [[ -f "$state/scheme" ]] && scheme="$(cat "$state/scheme")"
    echo "$scheme://127.0.0.1:$1"
}

# qcurl ARGS...: curl that trusts the cluster's throwaway CA when it has one. Needs $state.
qcurl() {
    if [[ -f "$state/scheme" && "$(cat "$state/scheme")" == https ]]; then
        curl --cacert "$state/tls/ca.pem" "$@"
    else
        curl "$@"
    fi
}

# make_ca DIR: a throwaway CA (DIR/ca.pem, DIR/ca.key) for a local TLS cluster, made once.
make_ca() {
    local dir="$1"
    mkdir -p "$dir"
    [[ -f "$dir/ca.pem" ]] && return 0
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=qunbo local cluster CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    chmod 600 "$dir/ca.key"
}

# make_node_cert DIR ID: DIR/ID.pem and DIR/ID.key signed by DIR's CA, for 127.0.0.1 and
# localhost, usable as server and as client certificate (mutual TLS).
make_node_cert() {
    local dir="$1" id="$2"
    [[ -f "$dir/$id.pem" ]] && return 0
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$id" \
        -keyout "$dir/$id.key" -out "$dir/$id.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
        "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" > "$dir/$id.ext"
    openssl x509 -req -in "$dir/$id.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 30 \
        -extfile "$dir/$id.ext" -out "$dir/$id.pem" 2>/dev/null
    rm -f "$dir/$id.csr" "$dir/$id.ext"
    chmod 600 "$dir/$id.key"
}
