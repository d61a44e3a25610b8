# One group member: prints its assignment changes with timestamps, and counts records.
import sys, time, json
from confluent_kafka import Consumer
brokers, topic, group, name, session, static = sys.argv[1:7]
conf = {"bootstrap.servers": brokers, "group.id": group, "auto.offset.reset": "earliest",
        "session.timeout.ms": int(session), "heartbeat.interval.ms": int(session)//5, "enable.auto.commit": True}
if static == "static":
    conf["group.instance.id"] = name
c = Consumer(conf)
def show(kind):
    def cb(cons, parts):
        print(json.dumps({"t": time.time(), "who": name, "event": kind, "parts": sorted(p.partition for p in parts)}), flush=True)
    return cb
c.subscribe([topic], on_assign=show("assign"), on_revoke=show("revoke"))
while True:
    m = c.poll(0.2)
    if m is not None and not m.error():
        print(json.dumps({"t": time.time(), "who": name, "event": "record", "p": m.partition()}), flush=True)
