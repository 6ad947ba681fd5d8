"""The HTTP listener under hostile clients, through raw sockets against the
real daemon: it never stops accepting (a flood of half-sent requests closed
all at once; out of file descriptors), the per-client connection cap, the
request-head deadline, the reserve kept for /healthz and /metrics, and
strict request framing.

Each test waits for conditions (wait_for) or for the server to close a
socket; none measures time. A server that never answers fails a test at a
deadline with a message saying what did not happen.
"""
import http.client
import json
import os
import signal
import socket
import struct
import threading

from tripline_test import DEADLINE, Daemon, tripline_bin_path, wait_for

HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def connect(port, source="127.0.0.1", timeout=DEADLINE):
    """A socket connected to the daemon from a loopback source address."""
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s):
    """Everything the server sends until it closes (b"" on a reset)."""
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data
    except socket.timeout:
        raise AssertionError("the server neither answered nor closed the connection "
                             "within %ds; got %r" % (DEADLINE, data[:200])) from None


def status_of(response):
    """The status code of a raw HTTP response, or None if there is none."""
    if not response.startswith(b"HTTP/1."):
        return None
    return int(response.split(b" ", 2)[1])


def request(port, raw, source="127.0.0.1"):
    """Send raw bytes on a fresh connection: (status, whole response until the
    server closes), or (None, b"") if the connection was refused or closed
    without an answer. A server that answers but keeps the connection open
    fails the test (read_all)."""
    try:
        s = connect(port, source)
    except OSError:
        return None, b""
    with s:
        try:
            s.sendall(raw)
        except OSError:
            pass                     # closed at once; read what there is
        data = read_all(s)
    return status_of(data), data


def healthz(port, source="127.0.0.1"):
    return request(port, HEAD + b"Connection: close\r\n\r\n", source)[0] == 200


def closed_by_server(s):
    """True once the server has closed s (EOF or reset on read, or EPIPE on write)."""
    s.settimeout(0.05)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def metric(port, name):
    status, data = request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                           source="127.0.0.9")
    if status != 200:
        return None
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def hold(port, n):
    """n connections from 127.0.0.1 with half a request sent. The daemon
    accepts connections in the order they were made, so it has counted these
    before any connection made after them."""
    socks = [connect(port) for _ in range(n)]
    for s in socks:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
    return socks


def test_flood_of_half_requests_closed_at_once_never_stops_the_listener(daemon):
    # More half-open connections than max_connections: the rest wait in the
    # listen queue. Each sends one more byte, then all close together; the
    # next request must be answered, every time.
    d = daemon(config={"limits": {"max_connections": 256, "max_connections_per_client": 256}})
    for iteration in range(20):
        socks = []
        for i in range(300):
            try:
                s = connect(d.port, timeout=10)
            except OSError as e:
                raise AssertionError("iteration %d: connection %d was not accepted (%s): the listener "
                                     "stopped accepting" % (iteration, i, e)) from None
            socks.append(s)
            s.sendall(HEAD + b"User-Agent: flood")
        for s in socks:
            try:
                s.sendall(b"x")
            except OSError:
                pass
        for s in socks:
            s.close()
        wait_for(lambda: healthz(d.port),
                 "iteration %d: an answer to GET /healthz after 300 half-sent requests closed at once"
                 % iteration)
    assert d.stop() == 0             # a clean exit (under ASan: nothing leaked)


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_closes_seen_in_one_batch_never_stop_the_listener(daemon):
    # The same flood, its closes made while the daemon is stopped (SIGSTOP),
    # so that it finds them all at once when it runs again (SIGCONT): every
    # connection it holds goes in one pass. Resets, so that an end of file
    # read with the last bytes cannot be missed either.
    d = daemon(config={"limits": {"max_connections": 256, "max_connections_per_client": 256}})
    for iteration in range(5):
        socks = [connect(d.port, timeout=10) for _ in range(300)]
        for s in socks:
            s.sendall(HEAD + b"User-Agent: flood")
        d.proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: proc_state(d.proc.pid) == "T", "the daemon stopped")
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        d.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: healthz(d.port),
                 "iteration %d: an answer to GET /healthz after 300 connections reset at once" % iteration)
    assert d.stop() == 0             # a clean exit (under ASan: nothing leaked)


def test_per_client_cap_and_another_client_still_served(daemon):
    d = daemon(config={"limits": {"max_connections": 64, "max_connections_per_client": 4,
                                  "request_head_timeout_s": 3600}})
    tricklers = hold(d.port, 4)
    # a fifth from the same address is closed without an answer, even with a complete request
    assert request(d.port, HEAD + b"Connection: close\r\n\r\n") == (None, b"")
    assert metric(d.port, 'tripline_http_refused_total{reason="per_client"}') >= 1
    # another address still gets in
    assert healthz(d.port, source="127.0.0.2")
    for s in tricklers:
        s.sendall(b"X")
        assert not closed_by_server(s)
        s.close()
    # the address has its share back once its connections are gone
    wait_for(lambda: healthz(d.port), "a request from the first address again")
    assert d.stop() == 0             # a clean exit (under ASan: nothing leaked)


def test_refusals_never_strand_answers_given_later(daemon):
    """PutEvents answers once the journal has the events (a deferred answer)
    while the listener keeps refusing the same client past its cap: every
    answer still reaches its client, and once the clients go no connection is
    left holding the client's share (the address is served again)."""
    d = daemon(config={"limits": {"max_connections_per_client": 4}})
    body = json.dumps({"Entries": [{"Source": "app", "DetailType": "t", "Detail": "{}"}]})
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSEvents.PutEvents"}
    stop = threading.Event()
    answered, stranded = [], []

    def client():
        while not stop.is_set():
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=DEADLINE / 4)
            try:
                for _ in range(200):
                    c.request("POST", "/", body, headers)
                    r = c.getresponse()
                    r.read()
                    answered.append(r.status)
            except socket.timeout:
                stranded.append(1)   # accepted, and never answered
            except (ConnectionError, http.client.HTTPException, OSError):
                pass                 # refused past the cap: closed without an answer
            finally:
                c.close()

    def knock():                     # connections past the cap, refused as they come
        while not stop.is_set():
            try:
                socket.create_connection(("127.0.0.1", d.port)).close()
            except OSError:
                pass

    threads = [threading.Thread(target=client, daemon=True) for _ in range(4)] + \
        [threading.Thread(target=knock, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(answered) >= 5000 or stranded, "5,000 answers under refusals")
    finally:
        stop.set()
        for t in threads:
            t.join(DEADLINE)
    assert not stranded, "%d requests were never answered" % len(stranded)
    assert set(answered) == {200}
    assert metric(d.port, 'tripline_http_refused_total{reason="per_client"}') > 0
    wait_for(lambda: healthz(d.port), "the first address served again")
    wait_for(lambda: metric(d.port, "tripline_http_connections") == 1,
             "every client connection closed")
    assert d.stop() == 0


def trickle_until_cut(s):
    """Send one byte at a time, never ending the head (an idle timeout never
    fires), until the server closes the connection."""
    def cut():
        try:
            s.sendall(b"a")
        except (BrokenPipeError, ConnectionResetError):
            return True
        return closed_by_server(s)
    wait_for(cut, "the server to close a connection whose request head never completes")


def test_trickler_is_cut_at_the_head_deadline(daemon):
    d = daemon(config={"limits": {"request_head_timeout_s": 1}})
    s = connect(d.port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nX-Trickle: ")
    trickle_until_cut(s)
    s.close()
    assert metric(d.port, 'tripline_http_refused_total{reason="head_timeout"}') == 1
    assert healthz(d.port)
    assert d.stop() == 0             # a clean exit (under ASan: nothing leaked)


def complete(response):
    """Whether a raw response's head and its Content-Length of body are in."""
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def test_kept_alive_connection_gets_a_new_head_deadline(daemon):
    d = daemon(config={"limits": {"request_head_timeout_s": 1}})
    s = connect(d.port)
    s.sendall(HEAD + b"\r\n")
    data = b""
    while not complete(data):
        chunk = s.recv(4096)
        assert chunk, "the server closed a kept-alive connection after one answer"
        data += chunk
    assert status_of(data) == 200
    # the second request's head on the same connection has a deadline of its own
    s.sendall(b"GET /healthz HTTP/1.1\r\nX-Trickle: ")
    trickle_until_cut(s)
    s.close()
    assert metric(d.port, 'tripline_http_refused_total{reason="head_timeout"}') == 1
    assert d.stop() == 0             # a clean exit (under ASan: nothing leaked)


def test_reserve_keeps_healthz_and_metrics_answering(daemon):
    # 16 connections: the last eighth (2) is the reserve, 14 the general room
    d = daemon(config={"limits": {"max_connections": 16, "max_connections_per_client": 16,
                                  "request_head_timeout_s": 3600}})
    idle = hold(d.port, 14)
    # an API request on a connection in the reserve gets 503 and the connection closed
    status, data = request(d.port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 503, data
    assert b"too many open connections" in data
    assert healthz(d.port)
    status, data = request(d.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and b"tripline_http_connections 15" in data, data
    # the moment load drops, everything is served again
    idle.pop().close()
    idle.pop().close()
    wait_for(lambda: request(d.port, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 404,
             "a 404 for GET /nope once two connections closed")
    for s in idle:
        s.close()
    assert d.stop() == 0             # a clean exit (under ASan: nothing leaked)


def test_full_listener_takes_the_next_connection_as_soon_as_one_closes(daemon):
    d = daemon(config={"limits": {"max_connections": 8, "max_connections_per_client": 8,
                                  "request_head_timeout_s": 3600}})
    held = [connect(d.port) for _ in range(8)]
    for s in held:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
    # the ninth waits in the listen queue: connected, not answered
    waiting = connect(d.port)
    waiting.sendall(HEAD + b"Connection: close\r\n\r\n")
    held.pop().close()
    assert status_of(read_all(waiting)) == 200
    waiting.close()
    assert d.stop() == 0             # with connections still open: all closed, nothing leaked
    for s in held:
        s.close()


def test_out_of_file_descriptors_the_listener_comes_back(tmp_path):
    # the daemon under a low RLIMIT_NOFILE: accept() fails with EMFILE well
    # before max_connections; once connections close it accepts again
    wrapper = tmp_path / "tripline-nofile"
    wrapper.write_text('#!/bin/sh\nulimit -n 64 || exit 99\nexec "%s" "$@"\n' % tripline_bin_path())
    wrapper.chmod(0o755)
    d = Daemon(str(wrapper), tmp_path, {"limits": {"max_connections": 256, "max_connections_per_client": 256,
                                                   "request_head_timeout_s": 3600}})
    try:
        socks = []
        for _ in range(100):
            socks.append(connect(d.port, timeout=10))
            socks[-1].sendall(b"GET /healthz HTTP/1.1\r\n")
        # more connections than descriptors: the daemon holds all it can, the rest wait in the queue
        wait_for(lambda: len(os.listdir("/proc/%d/fd" % d.proc.pid)) == 64, "the daemon out of descriptors")
        for s in socks:
            s.close()
        wait_for(lambda: healthz(d.port), "an answer to GET /healthz once the connections closed")
        assert d.stop() == 0
    finally:
        d.kill()


BAD_FRAMING = {
    "content-length and transfer-encoding":
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two different content-lengths":
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
    "http/1.1 without host":
        b"GET /healthz HTTP/1.1\r\n\r\n",
    "http/1.1 with two hosts":
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    "transfer-encoding other than chunked":
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
}


def test_ambiguous_framing_is_400_and_closed(daemon):
    d = daemon()
    for what, raw in BAD_FRAMING.items():
        with connect(d.port, timeout=10) as s:
            s.sendall(raw)
            data = read_all(s)       # returns only once the server has closed the connection
        assert status_of(data) == 400, (what, data)
        assert b'"message"' in data, (what, data)
    assert metric(d.port, 'tripline_http_refused_total{reason="framing"}') == len(BAD_FRAMING)
    # what stays allowed: HTTP/1.0 without Host, a repeated equal Content-Length, chunked alone
    for raw in (b"GET /healthz HTTP/1.0\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b"0\r\n\r\n"):
        assert request(d.port, raw)[0] == 200, raw
    assert d.stop() == 0             # a clean exit (under ASan: nothing leaked)
