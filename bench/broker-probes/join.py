# How long until a new group member gets its first record, on a fresh broker, static vs dynamic.
import sys, time, uuid
from confluent_kafka import Producer, Consumer
from confluent_kafka.admin import AdminClient, NewTopic
brokers, mode = sys.argv[1], sys.argv[2]
topic = f"t{uuid.uuid4().hex[:6]}"
admin = AdminClient({"bootstrap.servers": brokers})
admin.create_topics([NewTopic(topic, 3, 1)])[topic].result()
p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True})
for i in range(3):
    p.produce(topic, key=str(i), value=b"x" * 100, headers={"traceparent": "00-aa"})
p.flush(10)
conf = {"bootstrap.servers": brokers, "group.id": f"g{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest",
        "session.timeout.ms": int(sys.argv[3]) if len(sys.argv) > 3 else 45000, "enable.auto.commit": True}
if mode == "static":
    conf["group.instance.id"] = "m-0"
for k in sys.argv[4:]:
    a, b = k.split("="); conf[a] = b
c = Consumer(conf)
assigned = []
c.subscribe([topic], on_assign=lambda cons, parts: assigned.append((time.time(), len(parts))))
start = time.time(); got = 0; first = None
while time.time() - start < 60 and got < 3:
    m = c.poll(0.2)
    if m is not None and not m.error():
        got += 1
        first = first or time.time() - start
print(f"{mode}: assigned after {[round(t-start,2) for t,_ in assigned]} ({[n for _,n in assigned]} partitions), first record after {first and round(first,2)} s, {got}/3 records in {round(time.time()-start,2)} s")
c.close()
