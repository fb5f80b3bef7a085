#!/usr/bin/env bash
# Installs what infra/services.sh needs on a fresh Debian machine, and does nothing (in about a
# second) when everything is already there:
#   - Debian packages: redis-server (Redis), kcat (a foreign Kafka client for checks), and Java 17 +
#     Maven when missing;
#   - the Apache Kafka jars from Maven Central into infra/kafka/libs (listed in infra/kafka/pom.xml);
#   - Python's confluent-kafka[avro] from PyPI, the foreign client that proves the Confluent framing.
set -euo pipefail

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

# ---------------------------------------------------------------------------- Debian packages

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v kcat >/dev/null || missing+=(kcat)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v docker-compose >/dev/null || missing+=(docker-compose)  # validates docker-compose.yml in CI (no engine needed)

if [[ ${#missing[@]} -gt 0 ]]; then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || fail "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi

java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
[[ "${java_major:-0}" -ge 17 ]] || fail "Java 17 or newer is needed for Kafka, found ${java_major:-none}"

# ------------------------------------------------------------------------------- Kafka jars

# The jars are fetched again only when the pom changed since the last fetch.
libs="$INFRA/kafka/libs"
pom_sum="$(sha256sum "$INFRA/kafka/pom.xml" | cut -d' ' -f1)"
if [[ "$(cat "$libs/.pom.sha256" 2>/dev/null)" != "$pom_sum" ]]; then
  say "fetching Apache Kafka jars from Maven Central"
  rm -rf "$libs"
  (cd "$INFRA/kafka" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory=libs) \
    || fail "maven could not fetch the Kafka jars (infra/kafka/pom.xml)"
  echo "$pom_sum" >"$libs/.pom.sha256"
fi

# --------------------------------------------------------------------- foreign Confluent client

# confluent-kafka (librdkafka) decodes darkroom's Kafka records in test/integration/foreign-client.test.ts.
if ! python3 -c 'import confluent_kafka.schema_registry.avro' 2>/dev/null; then
  say "installing confluent-kafka[avro] from PyPI"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore 'confluent-kafka[avro]==2.16.0' \
    || fail "pip could not install confluent-kafka[avro]"
fi

say "ready: redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'), kcat $(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*/\1/p'), java $java_major, $(basename "$(compgen -G "$libs/kafka_2.13-*.jar")" .jar)"
