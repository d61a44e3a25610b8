# How fast one group consumer drains a backlog: N records of 400 bytes with two headers (as the
# outbox sends them) on a 3-partition topic, then a new group reads them all with the given
# consumer settings. Prints the drain time and the broker's CPU per record.
# Usage: drain.py BROKERS BROKER_PID RECORDS [key=value ...]
import sys, time, uuid, os
from confluent_kafka import Producer, Consumer
from confluent_kafka.admin import AdminClient, NewTopic
brokers, pid, records = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
extra = dict(kv.split("=", 1) for kv in sys.argv[4:])
topic = f"d{uuid.uuid4().hex[:6]}"
admin = AdminClient({"bootstrap.servers": brokers})
admin.create_topics([NewTopic(topic, 3, 1)])[topic].result()
producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "linger.ms": 2})
for i in range(records):
    producer.produce(topic, key=str(i), value=b"x" * 400,
                     headers={"event-type": b"OrderPlaced", "traceparent": b"00-" + b"a" * 50})
    if i % 1000 == 0:
        producer.poll(0)
producer.flush(60)
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
conf = {"bootstrap.servers": brokers, "group.id": f"g{uuid.uuid4().hex[:6]}",
        "auto.offset.reset": "earliest", "session.timeout.ms": 10000, "enable.auto.commit": True}
conf.update(extra)
consumer = Consumer(conf)
consumer.subscribe([topic])
got, first, cpu0 = 0, None, None
deadline = time.time() + 120
while got < records and time.time() < deadline:
    m = consumer.poll(0.2)
    if m is not None and not m.error():
        if first is None:
            first, cpu0 = time.time(), cpu()
        got += 1
elapsed = time.time() - first if first else float("nan")
used = cpu() - cpu0 if cpu0 is not None else float("nan")
print(f"{extra or 'defaults'}: {got}/{records} records in {elapsed:.1f} s after the first, "
      f"{got / elapsed:.0f}/s, broker {1e6 * used / max(got, 1):.0f} µs CPU per record")
consumer.close()
