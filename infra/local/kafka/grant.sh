#!/bin/sh
# Run in the Kafka pod by infra/local/kube.sh (`kubectl exec -i kafka-0 -- /opt/kafka/grant.sh`),
# as the admin user start.sh configured: creates the topics and adds the ACLs of the plan on stdin
# (infra/local/kafka/users.py: the chart's KafkaUsers and the Strimzi KafkaTopics). Both steps are
# idempotent, so a second `kube.sh kafka` changes nothing. `user` lines were used at format time.
set -eu
admin=/tmp/admin.properties
[ -s "$admin" ] || { echo "grant.sh: $admin missing: is the broker started (start.sh)?" >&2; exit 1; }
tool() {
  class="$1"; shift
  /opt/java/bin/java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true \
    -Dlog4j2.configurationFile=/tmp/log4j2-tools.properties -cp '/opt/kafka/libs/*' \
    "$class" --bootstrap-server 127.0.0.1:9092 --command-config "$admin" "$@"
}
while read -r kind name rest; do
  case "$kind" in
    user|'') ;;
    topic)
      # shellcheck disable=SC2086 # rest: the partitions, then one K=V per word
      set -- $rest
      partitions="$1"; shift
      configs=""
      for kv in "$@"; do configs="$configs --config $kv"; done
      # shellcheck disable=SC2086
      tool org.apache.kafka.tools.TopicCommand --create --if-not-exists --topic "$name" \
        --partitions "$partitions" --replication-factor 1 $configs
      ;;
    acl)
      # shellcheck disable=SC2086 # rest: TYPE RESOURCE[,..] OP[,..]
      set -- $rest
      type="$1" resources="$2" operations="$3"
      case "$type" in
        topic|group) flag="--$type" ;;
        *) echo "grant.sh: resource type $type is not served locally" >&2; exit 1 ;;
      esac
      args=""
      for r in $(echo "$resources" | tr , ' '); do args="$args $flag $r"; done
      for op in $(echo "$operations" | tr , ' '); do args="$args --operation $op"; done
      # shellcheck disable=SC2086
      tool org.apache.kafka.tools.AclCommand --add --allow-principal "User:$name" $args >/dev/null
      echo "ACLs of User:$name on $type $resources: $operations"
      ;;
    *) echo "grant.sh: unknown plan line: $kind" >&2; exit 1 ;;
  esac
done
