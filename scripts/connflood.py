# Opens N TCP connections to the server that never send a byte (half-open
# requests), then times a real request from another loopback address and
# counts the server's open file descriptors.
import socket, sys, time, os, subprocess, http.client
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
socks, failed = [], 0
t0 = time.time()
for i in range(n):
    s = socket.socket(); s.setblocking(True); s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port)); socks.append(s)
    except Exception as e:
        failed += 1
time.sleep(1)
fds = len(os.listdir(f"/proc/{pid}/fd"))
# How many of the flood's connections the server still holds open.
def alive(s):
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except Exception:
        return False
held = sum(alive(s) for s in socks)
t1 = time.time()
try:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=("127.0.0.2", 0))
    c.request("GET", "/readyz"); r = c.getresponse(); status = r.status; r.read()
except Exception as e:
    status = repr(e)
dt = time.time() - t1
print(f"flood={n} connect_failed={failed} server_fds={fds} flood_conns_still_open={held} buyer_readyz={status} in {dt:.2f}s")
