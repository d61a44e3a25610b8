#!/bin/bash
# Who may do what on the bus, made on the broker as its admin (User:admin, its super user) by
# the kafka-setup Job (kafka.yaml) and Compose's kafka-setup: the topics, each service's SCRAM
# credential (User:<service>, its password from <SERVICE>_KAFKA_PASSWORD) and its ACLs, exactly
# as the access table below says. Safe to run again: the topics are made if missing, the
# credentials set again (a changed password takes over), the ACLs the table grants added and any
# other ACL of a service's principal removed, after the additions (no one loses what it keeps).
#
# ADMIN_PASSWORD is the admin's. Passwords: letters, digits and '-' only (they are written into
# Kafka's own bracketed syntax and a JAAS line as they are).
set -euo pipefail
bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
: "${ADMIN_PASSWORD:?}"

# The access table: contracts::access::RULES (crates/contracts/src/access.rs), one service a
# line: the service, the topics it writes besides the dead-letter topic (which every service
# writes), the topics it reads, its consumer groups; comma-separated, '-' for none.
# tests/deploy.rs fails when this block and RULES differ, and prints the block RULES makes.
DEAD_LETTERS=mealkit.dlq
ACCESS='
product mealkit.product mealkit.payment,mealkit.redrive product
order mealkit.order mealkit.product,mealkit.delivery,mealkit.redrive order
payment mealkit.payment mealkit.delivery,mealkit.redrive payment
delivery mealkit.delivery mealkit.payment,mealkit.order,mealkit.redrive delivery
marketing mealkit.marketing mealkit.order,mealkit.delivery,mealkit.redrive marketing
sellerpage mealkit.redrive mealkit.order,mealkit.payment,mealkit.delivery,mealkit.product,mealkit.marketing,mealkit.dlq,mealkit.redrive sellerpage,sellerpage-dead-letters
'

admin=$(mktemp)
trap 'rm -f "$admin"' EXIT
chmod 600 "$admin"
cat >"$admin" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN_PASSWORD";
EOF
kafka() {
  local tool=$1
  shift
  "$bin/kafka-$tool.sh" --bootstrap-server "$bootstrap" --command-config "$admin" "$@" </dev/null
}
list() { [ "$1" = - ] || tr , '\n' <<<"$1"; }

# Every topic of the table (each is read by someone), three partitions, one replica.
topics=$(while read -r _ writes reads _; do
  [ -z "$writes" ] || { list "$writes"; list "$reads"; }
done <<<"$ACCESS" | sort -u)
for topic in $topics $DEAD_LETTERS; do
  kafka topics --create --if-not-exists --topic "$topic" --partitions 3 --replication-factor 1
done

# A principal's ACLs, one a line: TYPE|name|PATTERN|OPERATION|PERMISSION|host.
acls_of() {
  kafka acls --list --principal "$1" | awk '
    match($0, /resourceType=[A-Z_]+, name=.*, patternType=[A-Z]+\)/) {
      split(substr($0, RSTART, RLENGTH - 1), f, /, (name|patternType)=/)
      sub(/resourceType=/, "", f[1])
      resource = f[1] "|" f[2] "|" f[3]
      next
    }
    /\(principal=/ {
      line = $0
      sub(/^[[:space:]]*\(principal=[^,]*, host=/, "", line)
      sub(/\)[[:space:]]*$/, "", line)
      split(line, g, /, (operation|permissionType)=/)
      print resource "|" g[2] "|" g[3] "|" g[1]
    }'
}
# WRITE_CONFIGS -> WriteConfigs, as kafka-acls takes operations.
camel() {
  local part out=
  IFS=_ read -ra parts <<<"${1,,}"
  for part in "${parts[@]}"; do out+=${part^}; done
  echo "$out"
}
declare -A flag=([TOPIC]=--topic [GROUP]=--group [TRANSACTIONAL_ID]=--transactional-id
  [DELEGATION_TOKEN]=--delegation-token [USER]=--user-principal)

while read -r service writes reads groups; do
  [ -n "$service" ] || continue
  principal=User:$service
  variable=${service^^}_KAFKA_PASSWORD
  password=${!variable:?$variable is not set}
  kafka configs --alter --entity-type users --entity-name "$service" \
    --add-config "SCRAM-SHA-512=[password=$password]"

  # One kafka-acls a kind of grant (a JVM's start each): --topic and --group repeat.
  wanted=()
  to_write=()
  for topic in $(list "$writes") $DEAD_LETTERS; do
    wanted+=("TOPIC|$topic|LITERAL|WRITE|ALLOW|*" "TOPIC|$topic|LITERAL|DESCRIBE|ALLOW|*")
    to_write+=(--topic "$topic")
  done
  kafka acls --add --allow-principal "$principal" --operation Write --operation Describe \
    "${to_write[@]}"
  to_read=()
  for topic in $(list "$reads"); do
    wanted+=("TOPIC|$topic|LITERAL|READ|ALLOW|*" "TOPIC|$topic|LITERAL|DESCRIBE|ALLOW|*")
    to_read+=(--topic "$topic")
  done
  [ ${#to_read[@]} -eq 0 ] ||
    kafka acls --add --allow-principal "$principal" --operation Read --operation Describe \
      "${to_read[@]}"
  to_join=()
  for group in $(list "$groups"); do
    wanted+=("GROUP|$group|LITERAL|READ|ALLOW|*")
    to_join+=(--group "$group")
  done
  [ ${#to_join[@]} -eq 0 ] ||
    kafka acls --add --allow-principal "$principal" --operation Read "${to_join[@]}"

  while IFS='|' read -r type name pattern operation permission host; do
    [ -n "$type" ] || continue
    acl="$type|$name|$pattern|$operation|$permission|$host"
    if printf '%s\n' "${wanted[@]}" | grep -qxF -- "$acl"; then
      continue
    fi
    echo "removing $principal's $acl, which the table does not grant"
    who=--allow
    [ "$permission" = ALLOW ] || who=--deny
    if [ "$type" = CLUSTER ]; then
      resource=(--cluster)
    else
      resource=("${flag[$type]}" "$name")
    fi
    kafka acls --remove --force "$who-principal" "$principal" "$who-host" "$host" \
      --operation "$(camel "$operation")" --resource-pattern-type "${pattern,,}" "${resource[@]}"
  done < <(acls_of "$principal")
done <<<"$ACCESS"
echo "the bus's access is the table's"
