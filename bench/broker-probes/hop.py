# One hop's latency and the broker's CPU: a record every `interval` ms for `seconds`, one group
# consumer with the given fetch settings; prints the hop latency (produce -> consume) and the
# broker's CPU over the run. Usage: hop.py BROKERS BROKER_PID SECONDS INTERVAL_MS [key=value ...]
import sys, time, uuid, os
from confluent_kafka import Producer, Consumer
from confluent_kafka.admin import AdminClient, NewTopic
brokers, pid, seconds, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]) / 1000
extra = dict(kv.split("=", 1) for kv in sys.argv[5:])
topic = f"h{uuid.uuid4().hex[:6]}"
admin = AdminClient({"bootstrap.servers": brokers})
admin.create_topics([NewTopic(topic, 3, 1)])[topic].result()
producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "linger.ms": 2})
conf = {"bootstrap.servers": brokers, "group.id": f"g{uuid.uuid4().hex[:6]}", "auto.offset.reset": "latest",
        "session.timeout.ms": 10000, "enable.auto.commit": True}
conf.update(extra)
consumer = Consumer(conf)
assigned = []
consumer.subscribe([topic], on_assign=lambda c, parts: assigned.append(len(parts)))
while not assigned:
    consumer.poll(0.1)
for _ in range(10):
    consumer.poll(0.1)
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
latencies, sent = [], 0
cpu0, t0 = cpu(), time.time()
next_send = t0
while time.time() - t0 < seconds:
    now = time.time()
    if now >= next_send:
        producer.produce(topic, key=str(sent), value=repr(now).encode(), headers={"event-type": b"x"})
        producer.poll(0)
        sent += 1
        next_send += interval
    m = consumer.poll(max(0.0, min(0.005, next_send - time.time())))
    if m is not None and not m.error():
        latencies.append((time.time() - float(m.value())) * 1000)
producer.flush(5)
deadline = time.time() + 3
while len(latencies) < sent and time.time() < deadline:
    m = consumer.poll(0.05)
    if m is not None and not m.error():
        latencies.append((time.time() - float(m.value())) * 1000)
cpu_s, wall = cpu() - cpu0, time.time() - t0
latencies.sort()
q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")
print(f"{extra or 'defaults'}: {len(latencies)}/{sent} records, hop p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, "
      f"broker CPU {100 * cpu_s / wall:.1f}% of a core")
consumer.close()
