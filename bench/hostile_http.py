#!/usr/bin/env python3
"""bench/hostile_http.py - a normal request's latency while the logger is attacked.

    bench/hostile_http.py BIN_DIR ATTACK [SECONDS]

Starts a queue-broker and an event-logger from BIN_DIR (default options) on
free 127.0.0.1 ports, runs one attack from loopback addresses other than
127.0.0.1, and meanwhile POSTs an event from 127.0.0.1 every half second for
SECONDS (default 30). Prints how many were answered 201, the worst and median
latency, and whether `event-logger --healthcheck` passed at the end. Every
process it starts is stopped when it ends. ATTACK is one of:

    slow     520 connections from 127.0.0.2 declaring a 16,000-byte body and
             sending it one byte every 4 s
    idle     1,500 connections from 127.0.0.2 that send nothing
    idle16   1,500 connections from 127.0.0.10-25 that send nothing

The README's before/after table comes from this script, run against the
binaries of the commit before the HTTP guard and after it.
"""
import socket
import subprocess
import sys
import threading
import time
import urllib.request

IP_BIND_ADDRESS_NO_PORT = 24    # Linux: pick the port at connect, by the pair
ATTACKS = {
    "slow": (520, ["127.0.0.2"]),
    "idle": (1500, ["127.0.0.2"]),
    "idle16": (1500, [f"127.0.0.{10 + n}" for n in range(16)]),
}
SLOW_HEAD = (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 16000\r\n\r\n")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(port, source):
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def post(port):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/events", method="POST",
        data=b'{"user_id":"normal","description":"during the attack"}',
        headers={"Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(request, timeout=60).status
    except Exception as error:      # a timeout or a refusal is a result here
        return str(error)[:40]


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ATTACKS:
        sys.exit(__doc__)
    bin_dir, attack = sys.argv[1], sys.argv[2]
    duration = float(sys.argv[3]) if len(sys.argv) > 3 else 30
    count, sources = ATTACKS[attack]
    http, front, back = free_port(), free_port(), free_port()
    services = [
        subprocess.Popen([f"{bin_dir}/queue-broker", "--frontend", f"tcp://127.0.0.1:{front}",
                          "--backend", f"tcp://127.0.0.1:{back}", "--metrics-port", "0"],
                         stderr=subprocess.DEVNULL),
        subprocess.Popen([f"{bin_dir}/event-logger", "--port", str(http), "--broker",
                          f"tcp://127.0.0.1:{front}", "--log-level", "warn"],
                         stderr=subprocess.DEVNULL),
    ]
    sockets, stop = [], threading.Event()
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)

        def open_all():
            for index in range(count):
                try:
                    sock = connect(http, sources[index % len(sources)])
                    if attack == "slow":
                        sock.send(SLOW_HEAD)
                    sockets.append(sock)
                except OSError:
                    pass

        def trickle():
            while not stop.wait(4):
                for sock in list(sockets):
                    try:
                        sock.send(b"1")
                    except OSError:
                        pass

        start = time.monotonic()
        opener = threading.Thread(target=open_all)
        opener.start()
        if attack == "slow":
            threading.Thread(target=trickle, daemon=True).start()
        time.sleep(1)
        samples = []
        while time.monotonic() - start < duration:
            sent = time.monotonic()
            code = post(http)
            samples.append((round(time.monotonic() - start, 1),
                            round((time.monotonic() - sent) * 1000), code))
            time.sleep(0.5)
        stop.set()
        opener.join()
        health = subprocess.run([f"{bin_dir}/event-logger", "--port", str(http),
                                 "--healthcheck"], capture_output=True, timeout=30).returncode
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
        for service in services:
            service.terminate()
            service.wait(timeout=10)
    latencies = sorted(sample[1] for sample in samples)
    answered = sum(1 for sample in samples if sample[2] == 201)
    print(f"{attack}: {len(sockets)} attacker connections; {answered} of {len(samples)} normal"
          f" POSTs answered 201; worst {latencies[-1]} ms, median"
          f" {latencies[len(latencies) // 2]} ms; --healthcheck at the end exited {health}")
    print("  first samples (s into the attack, ms, status):", samples[:8])


if __name__ == "__main__":
    main()
