#!/bin/sh
# The entrypoint of localhost/taskstream-kafka (infra/local/kube.sh kafka-image): one KRaft node,
# broker and controller, its log in /var/lib/kafka (the StatefulSet's volume). The storage is
# formatted once, with a cluster id kept beside the log, so a restarted pod reopens its topics.
# Advertised by the pod's stable name under the headless Service (POD_NAME, SERVICE_NAME,
# POD_NAMESPACE from the downward API), as Strimzi's brokers are.
#
# Clients authenticate, as on Strimzi's listeners with `authentication: scram-sha-512`: the one
# client listener is SASL_PLAINTEXT with SCRAM-SHA-512 only, and StandardAuthorizer refuses
# whatever no ACL allows. The users are the files of the mounted Secret (USERS_DIR: file name =
# user name, content = password), created as SCRAM credentials when the storage is formatted;
# `admin` is the broker's own user (inter-broker traffic, and grant.sh's topics and ACLs).
# The controller listener stays PLAINTEXT on 127.0.0.1 (KRaft has no SCRAM for it): only this pod
# reaches it, and its anonymous principal is a super user so the broker may talk to its controller.
set -eu
: "${POD_NAME:?}" "${POD_NAMESPACE:?}" "${SERVICE_NAME:?}"
users="${USERS_DIR:-/etc/kafka/users}"
data=/var/lib/kafka
props=/tmp/server.properties
host="$POD_NAME.$SERVICE_NAME.$POD_NAMESPACE.svc.cluster.local"
[ -s "$users/admin" ] || { echo "start.sh: no admin password in $users/admin" >&2; exit 1; }
admin_password="$(cat "$users/admin")"
umask 077 # the properties below hold the admin password
cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=SASL_PLAINTEXT://$host:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_password";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
log.dirs=$data/log
# Topics are declared (grant.sh creates Strimzi's KafkaTopics), never created by a client.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
PROPS
cat >/tmp/admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_password";
PROPS
printf 'status = warn\nrootLogger.level = warn\n' >/tmp/log4j2-tools.properties
java() {
  exec_or_run="$1"; shift
  $exec_or_run /opt/java/bin/java -Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp '/opt/kafka/libs/*' "$@"
}
if [ ! -s "$data/cluster-id" ]; then
  python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))' \
    >"$data/cluster-id"
fi
# Every user's SCRAM credential goes into the first metadata of a new log; a formatted log (a
# restarted pod) keeps the ones it has, and the format below changes nothing.
scram=""
for file in "$users"/*; do
  name="$(basename "$file")"
  case "$name" in *[!A-Za-z0-9._-]*) echo "start.sh: user name $name is not plain" >&2; exit 1 ;; esac
  scram="$scram --add-scram SCRAM-SHA-512=[name=$name,password=$(cat "$file")]"
done
set -f # the brackets below are Kafka's syntax, not a glob
# shellcheck disable=SC2086 # scram: one --add-scram word pair per user (plain names, alnum passwords)
java "" kafka.tools.StorageTool format --ignore-formatted "--cluster-id=$(cat "$data/cluster-id")" -c "$props" $scram
java exec kafka.Kafka "$props"
