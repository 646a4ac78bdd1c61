import http.client, random, string, sys
port=int(sys.argv[1])
def size():
    c=http.client.HTTPConnection("127.0.0.1",port,timeout=30); c.request("GET","/metrics"); r=c.getresponse(); b=r.read(); return len(b), sum(1 for l in b.decode().splitlines() if l.startswith("shelf_http_requests_total{"))
before=size()
rnd=random.Random(1)
for i in range(300):
    m=''.join(rnd.choice(string.ascii_uppercase) for _ in range(8192))
    c=http.client.HTTPConnection("127.0.0.1",port,timeout=30)
    try:
        c.request(m,"/v1/products/"+str(i)); c.getresponse().read()
    except Exception as e:
        pass
for i in range(2000):
    m=''.join(rnd.choice(string.ascii_uppercase) for _ in range(rnd.randint(1,40)))
    c=http.client.HTTPConnection("127.0.0.1",port,timeout=30)
    try:
        c.request(m,"/"+''.join(rnd.choice(string.ascii_lowercase) for _ in range(20))); c.getresponse().read()
    except Exception:
        pass
after=size()
print(f"/metrics before: {before[0]} bytes, {before[1]} request series; after 300 8-KB methods + 2000 random methods/paths: {after[0]} bytes, {after[1]} series")
