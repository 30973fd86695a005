# Functions of the S3 store scripts; source after scripts/cluster/{env,lib}.sh and scripts/s3/env.sh.
# Every server runs as the postgres OS user under setsid, its PID in $S3LAB/run/<name>.pid.
weed_start() {  # $1 = name, $2 = port that answers when it is up, rest = weed arguments
  local name=$1 port=$2 pid; shift 2; pid=$(pidof_file "$S3LAB/run/$name.pid")
  if is_cmd "$pid" "$WEED"; then echo "$name already running pid $pid"; return 0; fi
  port_busy "$port" && { echo "$name: port $port busy" >&2; return 1; }
  # The server must not hold the caller's descriptors (a test harness would wait for their end forever).
  (close_inherited_fds; exec setsid setpriv --reuid=postgres --regid=postgres --init-groups \
    env -i HOME=/var/lib/postgresql "$WEED" "$@" > "$S3LAB/log/$name.log" 2>&1 < /dev/null) &
  echo $! > "$S3LAB/run/$name.pid"
  for _ in $(seq 1 1200); do port_busy "$port" && { echo "$name up pid $(cat "$S3LAB/run/$name.pid")"; return 0; }
    alive "$(cat "$S3LAB/run/$name.pid")" || break; sleep 0.05; done
  echo "$name did not start; see $S3LAB/log/$name.log" >&2; return 1
}
weed_stop() {  # $@ = names; SIGTERM to all at once, SIGKILL to whatever still runs 10 s later
  local name pid pids=()
  for name in "$@"; do
    pid=$(pidof_file "$S3LAB/run/$name.pid")
    if is_cmd "$pid" "$WEED"; then kill -TERM "$pid"; pids+=("$pid"); fi
    rm -f "$S3LAB/run/$name.pid"
  done
  for _ in $(seq 1 100); do
    local left=0; for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    [ "$left" = 0 ] && break; sleep 0.1
  done
  for pid in "${pids[@]}"; do alive "$pid" && kill -KILL "$pid"; done
  echo "stopped: $*"
}
start_volume() {  # $1 = 1..3
  weed_start "volume$1" "$(volume_port $1)" volume -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$(volume_port $1)" \
    -dir="$S3LAB/volume$1" -max=0 -mserver="127.0.0.1:$S3_MASTER_PORT" -dataCenter=dc1 -rack=rack1
}
start_s3_gateway() {
  weed_start s3 "$S3_PORT" s3 -ip.bind=127.0.0.1 -port="$S3_PORT" -filer="127.0.0.1:$S3_FILER_PORT" \
    -config="$S3LAB/identities.json" -port.https="$S3_HTTPS_PORT" -cert.file="$S3_TLS/server.crt" \
    -key.file="$S3_TLS/server.key"
}
# Signs one request with curl's own SigV4; prints the HTTP status. $1 = method, $2 = path below the endpoint.
s3_curl() {
  # The credentials reach curl through a config file on a pipe (printf is a shell builtin): never on a command line.
  curl -s -o /dev/null -w '%{http_code}' -X "$1" --aws-sigv4 "aws:amz:us-east-1:s3" \
    -K <(printf 'user = "%s:%s"\n' "$(< "$S3_KEYS/access_key")" "$(< "$S3_KEYS/secret_key")") "$S3_ENDPOINT/$2"
}
# A throw-away CA and a certificate for 127.0.0.1 signed by it, for the gateway's TLS port.
make_s3_tls() {
  [ -s "$S3_TLS/server.crt" ] && return 0
  install -d -o postgres -g postgres -m 0755 "$S3_TLS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=pgbak S3 test CA" \
    -keyout "$S3_TLS/ca.key" -out "$S3_TLS/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$S3_TLS/server.key" \
    -out "$S3_TLS/server.csr" 2>/dev/null
  # DNS:127.0.0.1 too: pgBackRest 2.45 matches the host against DNS names only.
  printf 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\n' > "$S3_TLS/server.ext"
  openssl x509 -req -in "$S3_TLS/server.csr" -CA "$S3_TLS/ca.crt" -CAkey "$S3_TLS/ca.key" -CAcreateserial \
    -days 3650 -extfile "$S3_TLS/server.ext" -out "$S3_TLS/server.crt" 2>/dev/null
  chown postgres:postgres "$S3_TLS"/*; chmod 600 "$S3_TLS"/*.key; chmod 644 "$S3_TLS"/*.crt
}
