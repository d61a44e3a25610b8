# The services' consumer groups against one broker, without the services: the six topics
# (3 partitions each), a producer writing `rate` events a second to each of the five event
# topics (two headers, 400 bytes, as the outbox sends them), and seven group consumers
# subscribed as product, payment, delivery, marketing, order, sellerpage and sellerpage's
# dead-letter recorder are. Prints the event latency (produce to consume, all groups) and the
# broker's CPU per event produced.
# Usage: groups.py BROKERS BROKER_PID SECONDS RATE [key=value ...]   (consumer settings)
import os, sys, threading, time, uuid
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
brokers, pid, seconds, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
extra = dict(kv.split("=", 1) for kv in sys.argv[5:])
run = uuid.uuid4().hex[:6]
names = ["product", "order", "payment", "delivery", "marketing", "dlq"]
topic = {n: f"{run}.{n}" for n in names}
admin = AdminClient({"bootstrap.servers": brokers})
for future in admin.create_topics([NewTopic(t, 3, 1) for t in topic.values()]).values():
    future.result()
groups = {
    "product": ["payment"], "payment": ["delivery"], "delivery": ["payment", "order"],
    "marketing": ["order", "delivery"], "order": ["product", "delivery"],
    "sellerpage": ["order", "payment", "delivery", "product", "marketing"], "dead-letters": ["dlq"],
}
latencies, lock, stop, assigned = [], threading.Lock(), threading.Event(), set()
def consume(group, subscribed):
    conf = {"bootstrap.servers": brokers, "group.id": f"{run}-{group}", "auto.offset.reset": "latest",
            "session.timeout.ms": 10000, "enable.auto.commit": True, "enable.auto.offset.store": False}
    conf.update(extra)
    c = Consumer(conf)
    c.subscribe([topic[t] for t in subscribed], on_assign=lambda cons, parts: assigned.add(group))
    while not stop.is_set():
        m = c.poll(0.1)
        if m is not None and not m.error():
            c.store_offsets(m)
            with lock:
                latencies.append((time.time() - float(m.value()[:20])) * 1000)
    c.close()
threads = [threading.Thread(target=consume, args=g) for g in groups.items()]
for t in threads:
    t.start()
while len(assigned) < len(groups):
    time.sleep(0.1)
time.sleep(2)
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all", "linger.ms": 2})
with lock:
    latencies.clear()
cpu0, t0, sent = cpu(), time.time(), 0
events = names[:5]
while time.time() - t0 < seconds:
    due = int((time.time() - t0) * rate)
    while sent < due:
        for n in events:
            producer.produce(topic[n], key=str(sent), value=f"{time.time():<20.6f}".encode() + b"x" * 380,
                             headers={"event-type": b"Event", "traceparent": b"00-" + b"a" * 52})
        sent += 1
    producer.poll(0)
    time.sleep(0.002)
producer.flush(10)
time.sleep(3)
cpu_s, wall = cpu() - cpu0, time.time() - t0
stop.set()
for t in threads:
    t.join()
lat = sorted(latencies)
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
expected = sent * sum(len(v) for v in groups.values() if v != ["dlq"])
print(f"{extra or 'defaults'} at {rate:.0f}/s per topic: {len(lat)}/{expected} deliveries, latency p50 {q(0.5):.0f} ms, "
      f"p99 {q(0.99):.0f} ms, broker {100 * cpu_s / wall:.0f}% of a core, {1e3 * cpu_s / max(sent, 1):.2f} ms per event set")
