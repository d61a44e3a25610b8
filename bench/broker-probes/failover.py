# Two members of a group on a 3-partition topic; kill -9 one and leave it down; who reads new records?
import os, sys, time, uuid, subprocess, json, threading
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
brokers, static, session = sys.argv[1], sys.argv[2], sys.argv[3]
topic, group = f"f{uuid.uuid4().hex[:6]}", f"g{uuid.uuid4().hex[:6]}"
admin = AdminClient({"bootstrap.servers": brokers})
admin.create_topics([NewTopic(topic, 3, 1)])[topic].result()
py = sys.executable
events = []
def run(name):
    p = subprocess.Popen([py, os.path.join(os.path.dirname(os.path.abspath(__file__)), "member.py"), brokers, topic, group, name, session, static], stdout=subprocess.PIPE, text=True)
    def read():
        for line in p.stdout:
            events.append(json.loads(line))
    threading.Thread(target=read, daemon=True).start()
    return p
t0 = time.time()
a, b = run("a"), run("b")
prod = Producer({"bootstrap.servers": brokers})
def produce(n, tag):
    for i in range(n):
        prod.produce(topic, key=f"{tag}{i}", value=b"x")
    prod.flush(10)
time.sleep(int(session)/1000 + 8)
produce(30, "before")
time.sleep(3)
def count(after, who):
    return sum(1 for e in events if e["event"] == "record" and e["t"] > after and e["who"] == who)
print("before kill: a", count(t0, "a"), "b", count(t0, "b"))
tk = time.time(); b.kill()
wait = int(session)/1000 + 15
time.sleep(wait)
produce(30, "after")
time.sleep(5)
print(f"{wait:.0f}s after kill -9 of b: a read {count(tk, 'a')} of 30 new records")
print("a's assignments:", [(round(e["t"]-t0,1), e["event"], e["parts"]) for e in events if e["who"] == "a" and e["event"] != "record"])
tr = time.time(); b = run("b")
time.sleep(int(session)/1000 + 8)
produce(30, "again")
time.sleep(4)
print("after b restarted: a", count(tr, "a"), "b", count(tr, "b"), "of 30")
a.kill(); b.kill()
