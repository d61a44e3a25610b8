#!/bin/bash
# The broker's start (kafka.yaml, docker-compose.yml), before the apache/kafka image's own.
#
# Only the admin (User:admin, the broker's super user) can make the services' credentials, and
# it authenticates with SCRAM, whose credentials live in the cluster's metadata: the admin's must
# be there from the first start. The image formats an empty data directory itself but cannot add
# a SCRAM credential, so on an empty one this formats it first, with the admin's
# (`kafka-storage format --add-scram`), from the same KAFKA_* settings the image turns into
# server.properties. The image's own format then finds the storage formatted, which it accepts
# ("already formatted"), and starts the broker.
#
# ADMIN_PASSWORD, not KAFKA_ADMIN_PASSWORD: the image writes every KAFKA_* variable into
# server.properties. Letters, digits and '-' only: it is written into the settings' JAAS lines
# and into the --add-scram argument as it is.
set -euo pipefail
: "${CLUSTER_ID:?}" "${KAFKA_LOG_DIRS:?}" "${ADMIN_PASSWORD:?}"

# KAFKA_LOG_DIRS is a directory inside the volume, never its root (an ext4 disk has lost+found
# there): made on the first start.
mkdir -p "$KAFKA_LOG_DIRS"
if [ ! -e "$KAFKA_LOG_DIRS/meta.properties" ]; then
  settings=$(mktemp)
  # The image's rule (its README): KAFKA_ dropped, lower case, '_' -> '.', '__' -> '_',
  # '___' -> '-'; the JVM's and logging's variables are not settings.
  while IFS='=' read -r name value; do
    case $name in
      KAFKA_*_OPTS | KAFKA_VERSION | KAFKA_LOG4J_* | KAFKA_TOOLS_* | KAFKA_JMX_*) ;;
      KAFKA_*)
        key=${name#KAFKA_}
        key=${key,,}
        key=${key//_/.}
        key=${key//.../-}
        key=${key//../_}
        printf '%s=%s\n' "$key" "$value" >>"$settings"
        ;;
    esac
  done < <(env)
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "$CLUSTER_ID" --config "$settings" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PASSWORD]"
  rm -f "$settings"
fi

# The admin's client settings, for Kafka's tools inside this container (Compose's healthcheck,
# `kubectl exec`/`docker compose exec kafka ... --command-config /opt/kafka/config/admin.properties`).
(
  umask 077
  cat >/opt/kafka/config/admin.properties <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN_PASSWORD";
EOF
)

exec /etc/kafka/docker/run
