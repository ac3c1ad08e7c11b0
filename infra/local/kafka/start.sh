#!/bin/sh
# The entrypoint of localhost/taskstream-kafka (infra/local/kube.sh kafka-image): one KRaft node,
# broker and controller, its log in /var/lib/kafka (the StatefulSet's volume). The storage is
# formatted once, with a cluster id kept beside the log, so a restarted pod reopens its topics.
# Advertised by the pod's stable name under the headless Service (POD_NAME, SERVICE_NAME,
# POD_NAMESPACE from the downward API), as Strimzi's brokers are.
set -eu
: "${POD_NAME:?}" "${POD_NAMESPACE:?}" "${SERVICE_NAME:?}"
data=/var/lib/kafka
props=/tmp/server.properties
host="$POD_NAME.$SERVICE_NAME.$POD_NAMESPACE.svc.cluster.local"
cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://$host:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data/log
auto.create.topics.enable=true
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
java "" kafka.tools.StorageTool format --ignore-formatted "--cluster-id=$(cat "$data/cluster-id")" -c "$props"
java exec kafka.Kafka "$props"
