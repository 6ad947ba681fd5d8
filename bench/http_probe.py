#!/usr/bin/env python3
"""Probe of the HTTP listener under hostile clients: prints figures, never
fails on a timing (it exits 1 only if the daemon does not answer at all
within the deadline, the listener-freeze symptom).

- flood: ROUNDS times, 300 connections (max_connections 256, the rest in
  the listen queue) send half a request, one more byte each, and all close;
  the figure is the time from the last close to the first answer to
  GET /healthz.
- trickle, one address: 256 clients from 127.0.0.1 send one byte a second
  of a never-ending request head (the default limits: 32 per client); the
  figures are how many got in and the latency of GET /healthz from
  127.0.0.2 meanwhile.
- trickle, many addresses: the same from 127.0.0.1-127.0.0.8 (32 each), so
  that every connection slot is taken; the figures are the latency of
  GET /healthz from another address (it waits in the listen queue until the
  request-head deadline frees slots) and when the last trickler was cut.

    python3 bench/http_probe.py --tripline build/release/engine/tripline [--rounds 20]
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

DEADLINE = 60.0
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(port, source="127.0.0.1", timeout=DEADLINE):
    """Seconds until GET /healthz answered 200 (retrying a refused or closed connection), or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with socket.socket() as s:
                s.settimeout(timeout)
                s.bind((source, 0))
                s.connect(("127.0.0.1", port))
                s.sendall(HEAD + b"Connection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            if data.startswith(b"HTTP/1.1 200"):
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.01)
    return None


def start_daemon(binary, tmp, limits):
    port = free_port()
    cfg = os.path.join(tmp, "tripline.json")
    os.makedirs(os.path.join(tmp, "rules"), exist_ok=True)
    with open(cfg, "w") as f:
        json.dump({"listen": "127.0.0.1:%d" % port, "data_dir": os.path.join(tmp, "var"),
                   "rules": [os.path.join(tmp, "rules")], "task_definitions": [], "limits": limits}, f)
    proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if healthz(port) is None:
        proc.kill()
        sys.exit("http_probe: the daemon did not start")
    return proc, port


def ms(seconds):
    return "%.1f ms" % (seconds * 1000)


def flood(binary, tmp, rounds):
    proc, port = start_daemon(binary, tmp, {"max_connections": 256, "max_connections_per_client": 256})
    times = []
    try:
        for r in range(rounds):
            socks = []
            for i in range(300):
                s = socket.socket()
                s.settimeout(10)
                try:
                    s.connect(("127.0.0.1", port))
                except OSError as e:
                    sys.exit("http_probe: flood round %d: connection %d not accepted (%s): the listener "
                             "stopped accepting" % (r, i, e))
                s.sendall(HEAD + b"User-Agent: flood")
                socks.append(s)
            for s in socks:
                try:
                    s.sendall(b"x")
                except OSError:
                    pass
            for s in socks:
                s.close()
            t = healthz(port)
            if t is None:
                sys.exit("http_probe: flood round %d: no answer within %ds: the listener stopped accepting"
                         % (r, DEADLINE))
            times.append(t)
    finally:
        proc.kill()
        proc.wait()
    print("flood (300 half-sent requests, one more byte each, all closed), %d rounds: first answer after "
          "min %s, median %s, max %s" % (rounds, ms(min(times)), ms(statistics.median(times)), ms(max(times))))


def trickle(binary, tmp, sources, per_source):
    """Tricklers from each source address; returns (admitted, healthz latency, seconds until all cut)."""
    proc, port = start_daemon(binary, tmp, {})
    stop = threading.Event()
    socks = []
    for src in sources:
        for _ in range(per_source):
            s = socket.socket()
            s.settimeout(1)
            s.bind((src, 0))
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /healthz HTTP/1.1\r\nX-Trickle: ")
            except OSError:
                pass
            socks.append(s)
    start = time.monotonic()

    def drip():
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            stop.wait(1.0)
    t = threading.Thread(target=drip, daemon=True)
    t.start()
    try:
        time.sleep(0.5)
        admitted = sum(1 for s in socks if alive(s))
        latency = healthz(port, source="127.0.0.200")
        while any(alive(s) for s in socks) and time.monotonic() - start < DEADLINE:
            time.sleep(0.1)
        cut_after = time.monotonic() - start
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return admitted, latency, cut_after


def alive(s):
    """Whether the server still holds s open (no EOF or reset seen)."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.settimeout(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tripline", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        flood(a.tripline, os.path.join(tmp, "flood"), a.rounds)
        admitted, latency, cut = trickle(a.tripline, os.path.join(tmp, "one"), ["127.0.0.1"], 256)
        print("trickle, 256 clients from one address: %d admitted (limits.max_connections_per_client 32); "
              "GET /healthz from another address answered in %s; tricklers cut after %.1f s "
              "(limits.request_head_timeout_s 10)" % (admitted, ms(latency) if latency else "never", cut))
        admitted, latency, cut = trickle(a.tripline, os.path.join(tmp, "many"),
                                         ["127.0.0.%d" % i for i in range(1, 9)], 32)
        print("trickle, 256 clients from 8 addresses (every slot taken): %d admitted; GET /healthz from "
              "another address answered in %s; tricklers cut after %.1f s"
              % (admitted, ms(latency) if latency else "never", cut))


if __name__ == "__main__":
    main()
