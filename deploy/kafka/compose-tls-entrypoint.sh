#!/usr/bin/env bash
# The Kafka container's start under docker-compose.tls.yml (apache/kafka image).
#
# KRaft keeps SCRAM credentials in the metadata log, so the first one (the admin's, who then
# creates the services' users and ACLs: `openrcm-stack kafka-acls --apply`) must be written in
# when the log is created, and the image's own start-up formats storage without any. So: on the
# first start only, format the data volume with the admin's credential, then hand over to the
# image's start-up, which finds the storage formatted and carries on. Every start also writes the
# admin's client settings for the health check and for kafka-*.sh tools run in the container.
#
# OPENRCM_KAFKA_HOME and OPENRCM_KAFKA_IMAGE_START default to the image's paths; a test points them
# elsewhere (names without the KAFKA_ prefix, which the image would turn into broker settings).
set -euo pipefail

kafka_home="${OPENRCM_KAFKA_HOME:-/opt/kafka}"
data_dir="${KAFKA_LOG_DIRS:?}"
admin_password="${SCRAM_ADMIN_PASSWORD:?the SCRAM password of the admin}"
admin_config="${ADMIN_CLIENT_CONFIG:-/tmp/admin.properties}"

umask 077  # both files below hold the admin's password

if [ ! -f "$data_dir/meta.properties" ]; then
  format_config="$(mktemp)"
  # The broker's settings, from the KAFKA_* variables as the image writes them later (prefix
  # dropped, lower case, ___ -> -, __ -> _, _ -> .): the storage tool validates the whole of it.
  while IFS='=' read -r name value; do
    case "$name" in
      KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JMX_OPTS | KAFKA_LOG4J_OPTS | KAFKA_JVM_PERFORMANCE_OPTS) ;;
      KAFKA_*)
        key="$(printf '%s' "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' | sed 's/___/-/g; s/__/%/g; s/_/./g; s/%/_/g')"
        printf '%s=%s\n' "$key" "$value" >>"$format_config" ;;
    esac
  done < <(env)
  # The password is on this command line for the format's few seconds (the storage tool reads it
  # nowhere else); SCRAM's own format characters (, ] =) cannot be in it.
  "$kafka_home/bin/kafka-storage.sh" format --cluster-id "${CLUSTER_ID:?}" --config "$format_config" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${admin_password}]"
  rm -f "$format_config"
fi

cat >"$admin_config" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${admin_password}";
ssl.truststore.type=PEM
ssl.truststore.location=${KAFKA_SSL_TRUSTSTORE_LOCATION:?}
EOF

exec "${OPENRCM_KAFKA_IMAGE_START:-/etc/kafka/docker/run}" "$@"
