#!/usr/bin/env bash
# Real services for tests and development, as local processes on loopback (no Docker here):
#   bash infra/services.sh start|stop|status|clean [kafka|redis|clickhouse|registry ...]
#   (default: kafka redis clickhouse)
#
#   kafka       Apache Kafka 3.9 in KRaft mode, one combined broker+controller   127.0.0.1:19092
#   redis       Debian's redis-server, no persistence                             127.0.0.1:16379
#   clickhouse  ClickHouse's HTTP interface served by the ClickHouse engine in-process (chDB),
#               infra/clickhouse-http/ (no ClickHouse server can be installed here)   127.0.0.1:18123
#   registry  no Confluent-compatible registry can be installed from the registries we reach
#             (see infra/README.md): asking for it is an error, the default set leaves it out.
#
# State, pid files and logs live in infra/.run/. `start` is idempotent: a service whose port already
# answers is left alone (whoever started it), and `start` returns only once each service really
# serves. `stop` ends only the processes this script started (by their pid files).
set -euo pipefail

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$INFRA/.run"
KAFKA_PORT=19092
REDIS_PORT=16379
CLICKHOUSE_PORT=18123
KAFKA_START_TIMEOUT_S=${KAFKA_START_TIMEOUT_S:-120}

fail() { echo "services.sh: $*" >&2; exit 1; }
say() { echo "services.sh: $*"; }

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid in a pid file, if that process is still alive and is the one we started (pids get reused).
managed_pid() {
  local file="$RUN/$1.pid" pattern="$2" pid
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  echo "$pid"
}

# Whether the process we just started is still alive. Only liveness: right after the fork its
# cmdline is still the shell's, so managed_pid's pattern check would call a starting service dead.
still_alive() {
  local pid
  pid="$(cat "$RUN/$1.pid" 2>/dev/null)" && [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# ---------------------------------------------------------------------------------------- kafka

KAFKA_PATTERN='kafka.Kafka'

kafka_classpath() {
  compgen -G "$INFRA/kafka/libs/kafka_2.13-*.jar" >/dev/null \
    || fail "Kafka jars missing in infra/kafka/libs (run: bash infra/install.sh)"
  echo "$INFRA/kafka/libs/*"
}

start_kafka() {
  if port_answers "$KAFKA_PORT"; then say "kafka already running on 127.0.0.1:$KAFKA_PORT"; return; fi
  command -v java >/dev/null || fail "java not found (Java 17+ is needed for Kafka; run: bash infra/install.sh)"
  local cp dir="$RUN/kafka"
  cp="$(kafka_classpath)"
  mkdir -p "$dir/data"
  { cat "$INFRA/kafka/server.properties"; echo "log.dirs=$dir/data"; } >"$dir/server.properties"

  # KRaft storage is formatted once with a fresh cluster id; later starts reuse it.
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null)" \
      || fail "kafka storage tool failed (see: java -cp 'infra/kafka/libs/*' kafka.tools.StorageTool)"
    java -Dlog4j.configuration="file:$INFRA/kafka/log4j.properties" -cp "$cp" kafka.tools.StorageTool \
      format -t "$cluster_id" -c "$dir/server.properties" --ignore-formatted >"$RUN/kafka-format.log" 2>&1 \
      || fail "formatting Kafka storage failed: $(tail -n 1 "$RUN/kafka-format.log")"
  fi

  : >"$RUN/kafka.log"
  KAFKA_HEAP_OPTS= nohup java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$INFRA/kafka/log4j.properties" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" >>"$RUN/kafka.log" 2>&1 </dev/null &
  echo $! >"$RUN/kafka.pid"

  # The port opens before the broker has joined its own quorum; the log line comes once it serves.
  local waited=0
  until grep -q 'Kafka Server started' "$RUN/kafka.log" && port_answers "$KAFKA_PORT"; do
    still_alive kafka \
      || fail "kafka exited while starting: $(grep -m1 -E 'ERROR|Exception' "$RUN/kafka.log" || tail -n 1 "$RUN/kafka.log")"
    ((waited++ < KAFKA_START_TIMEOUT_S * 2)) || fail "kafka did not start within ${KAFKA_START_TIMEOUT_S}s (log: infra/.run/kafka.log)"
    sleep 0.5
  done
  say "kafka started on 127.0.0.1:$KAFKA_PORT (pid $(cat "$RUN/kafka.pid"), log infra/.run/kafka.log)"
}

# ---------------------------------------------------------------------------------------- redis

REDIS_PATTERN="redis-server 127.0.0.1:$REDIS_PORT"

start_redis() {
  if port_answers "$REDIS_PORT"; then say "redis already running on 127.0.0.1:$REDIS_PORT"; return; fi
  command -v redis-server >/dev/null || fail "redis-server not installed (run: bash infra/install.sh)"
  mkdir -p "$RUN/redis"
  # Views are rebuilt from the topics, so the test Redis keeps nothing on disk.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$RUN/redis" --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$RUN/redis.log" \
    || fail "redis-server failed to start (log: infra/.run/redis.log)"
  local waited=0
  until [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; do
    ((waited++ < 40)) || fail "redis did not answer PING within 10s (log: infra/.run/redis.log)"
    sleep 0.25
  done
  say "redis started on 127.0.0.1:$REDIS_PORT (pid $(cat "$RUN/redis.pid"))"
}

# ----------------------------------------------------------------------------------- clickhouse

CLICKHOUSE_PATTERN='clickhouse-http/server.ts'

start_clickhouse() {
  if port_answers "$CLICKHOUSE_PORT"; then say "clickhouse already running on 127.0.0.1:$CLICKHOUSE_PORT"; return; fi
  local root
  root="$(cd "$INFRA/.." && pwd)"
  [[ -d "$root/node_modules/chdb" ]] || fail "chdb is not installed (run: npm ci)"
  mkdir -p "$RUN/clickhouse/data"
  : >"$RUN/clickhouse.log"
  (
    cd "$root"
    nohup node --import tsx infra/clickhouse-http/server.ts --path "$RUN/clickhouse/data" \
      --port "$CLICKHOUSE_PORT" --host 127.0.0.1 >>"$RUN/clickhouse.log" 2>&1 </dev/null &
    echo $! >"$RUN/clickhouse.pid"
  )
  # The port opens only once the engine has opened its data directory.
  local waited=0
  until grep -q 'listening on' "$RUN/clickhouse.log" && port_answers "$CLICKHOUSE_PORT"; do
    still_alive clickhouse \
      || fail "clickhouse exited while starting: $(tail -n 1 "$RUN/clickhouse.log")"
    ((waited++ < 120)) || fail "clickhouse did not start within 60s (log: infra/.run/clickhouse.log)"
    sleep 0.5
  done
  say "clickhouse started on 127.0.0.1:$CLICKHOUSE_PORT (pid $(cat "$RUN/clickhouse.pid"), log infra/.run/clickhouse.log)"
}

# ------------------------------------------------------------------------------------- registry

no_registry() {
  fail "no Confluent-compatible schema registry can be installed here (see infra/README.md); tests use the file-backed registry"
}

# ----------------------------------------------------------------------------------------- verbs

stop_one() {
  local name="$1" pattern="$2" pid
  if ! pid="$(managed_pid "$name" "$pattern")"; then
    rm -f "$RUN/$name.pid"
    if port_answers "$3"; then say "$name on 127.0.0.1:$3 was not started by services.sh; left running"
    else say "$name not running"; fi
    return
  fi
  kill "$pid"
  # Kafka shuts down cleanly in a few seconds; a clean shutdown saves log recovery on the next start.
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; say "$name (pid $pid) killed after 30s"; else say "$name stopped"; fi
  rm -f "$RUN/$name.pid"
}

status_one() {
  local name="$1" pattern="$2" port="$3" pid
  if pid="$(managed_pid "$name" "$pattern")"; then
    if port_answers "$port"; then say "$name running on 127.0.0.1:$port (pid $pid)"
    else say "$name process $pid alive but 127.0.0.1:$port not answering (starting?)"; fi
  elif port_answers "$port"; then say "$name answering on 127.0.0.1:$port (not started by services.sh)"
  else say "$name stopped"; return 1
  fi
}

main() {
  local verb="${1:-}"
  [[ $# -gt 0 ]] && shift
  local services=("$@")
  [[ ${#services[@]} -gt 0 ]] || services=(kafka redis clickhouse)
  for s in "${services[@]}"; do
    case "$s" in kafka|redis|clickhouse|registry) ;; *) fail "unknown service '$s' (kafka, redis, clickhouse, registry)";; esac
  done
  mkdir -p "$RUN"

  local rc=0
  case "$verb" in
    start)
      for s in "${services[@]}"; do
        case "$s" in kafka) start_kafka;; redis) start_redis;; clickhouse) start_clickhouse;; registry) no_registry;; esac
      done;;
    stop)
      for s in "${services[@]}"; do
        case "$s" in
          kafka) stop_one kafka "$KAFKA_PATTERN" "$KAFKA_PORT";;
          redis) stop_one redis "$REDIS_PATTERN" "$REDIS_PORT";;
          clickhouse) stop_one clickhouse "$CLICKHOUSE_PATTERN" "$CLICKHOUSE_PORT";;
          registry) ;;
        esac
      done;;
    status)
      for s in "${services[@]}"; do
        case "$s" in
          kafka) status_one kafka "$KAFKA_PATTERN" "$KAFKA_PORT" || rc=1;;
          redis) status_one redis "$REDIS_PATTERN" "$REDIS_PORT" || rc=1;;
          clickhouse) status_one clickhouse "$CLICKHOUSE_PATTERN" "$CLICKHOUSE_PORT" || rc=1;;
          registry) say "registry not available (see infra/README.md)"; rc=1;;
        esac
      done;;
    clean)
      main stop "${services[@]}"
      for s in "${services[@]}"; do rm -rf "${RUN:?}/$s" "$RUN/$s.log" "$RUN/$s-format.log"; done
      say "removed state of: ${services[*]}";;
    *) fail "usage: bash infra/services.sh start|stop|status|clean [kafka|redis|clickhouse|registry ...]";;
  esac
  return "$rc"
}

main "$@"
