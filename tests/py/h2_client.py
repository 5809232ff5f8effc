"""An HTTP/2 client on the `h2` library from PyPI, for tests/tests/h2_interop.rs.

python-hyper's `h2` is a sans-IO protocol stack written apart from every Rust one, so
it checks the server against a second reading of RFC 9113. It runs over a plain
socket with prior knowledge (h2c) and honours flow control both ways by hand, which
is where a server's bookkeeping shows.

Usage: h2_client.py basic PORT | reset PORT A_PATH

Prints one line per finding; the Rust test compares them. Exits non-zero (with a
traceback) on a protocol error, a closed connection or the socket's safety timeout.
"""

import hashlib
import socket
import sys

import h2.config
import h2.connection
import h2.events
import h2.errors

# A safety net against a hang, never a way to wait: every read waits on data.
SOCKET_TIMEOUT = 30


class Stream:
    def __init__(self):
        self.status = None
        self.body = bytearray()
        self.trailers = None
        self.ended = False
        self.reset = None


class Client:
    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.streams = {}
        self.goaway = None
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Reads once from the socket and handles what it brought."""
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        for event in self.conn.receive_data(data):
            sid = getattr(event, "stream_id", None)
            stream = self.streams.get(sid)
            if isinstance(event, h2.events.ResponseReceived):
                stream.status = dict(event.headers)[":status"]
            elif isinstance(event, h2.events.DataReceived):
                if stream is not None:
                    stream.body += event.data
                # Credit goes back at once: this client never pushes back.
                self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
            elif isinstance(event, h2.events.TrailersReceived):
                stream.trailers = dict(event.headers)
            elif isinstance(event, h2.events.StreamEnded):
                stream.ended = True
            elif isinstance(event, h2.events.StreamReset):
                if stream is not None:
                    stream.reset = h2.errors.ErrorCodes(event.error_code).name
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = h2.errors.ErrorCodes(event.error_code).name
        self.flush()

    def open(self, method, path, body=None):
        """Sends the header block; the body, if any, is sent with `send`."""
        sid = self.conn.get_next_available_stream_id()
        headers = [
            (":method", method),
            (":scheme", "http"),
            (":authority", f"127.0.0.1:{self.port}"),
            (":path", path),
        ]
        if body is not None:
            headers.append(("content-length", str(body)))
        self.streams[sid] = Stream()
        self.conn.send_headers(sid, headers, end_stream=body is None)
        self.flush()
        return sid

    def send(self, sid, data, end):
        """Sends `data` on `sid` within both flow-control windows, waiting for the
        server's WINDOW_UPDATEs when they are spent."""
        view = memoryview(data)
        while view:
            window = self.conn.local_flow_control_window(sid)
            n = min(window, self.conn.max_outbound_frame_size, len(view))
            if n == 0:
                self.pump()
                continue
            self.conn.send_data(sid, view[:n].tobytes())
            view = view[n:]
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def wait(self, sid):
        stream = self.streams[sid]
        while not (stream.ended or stream.reset):
            self.pump()
        return stream

    def request(self, method, path, body=None):
        sid = self.open(method, path, None if body is None else len(body))
        if body is not None:
            self.send(sid, body, end=True)
        return self.wait(sid)


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


def pattern(n, seed):
    return bytes((i * 7 + seed) % 251 for i in range(n))


def basic(port):
    c = Client(port)
    s = c.request("GET", "/")
    print(f"GET / {s.status} {bytes(s.body)!r}")
    # Larger than the server's 64 KiB windows: the upload needs its WINDOW_UPDATEs.
    upload = pattern(300_000, 1)
    s = c.request("POST", "/echo", upload)
    same = bytes(s.body) == upload
    print(f"POST /echo {s.status} {len(s.body)} bytes identical={same}")
    s = c.request("GET", "/stream")
    print(f"GET /stream {s.status} {bytes(s.body)!r} trailers={s.trailers}")
    print(f"goaway={c.goaway}")


def reset(port, a_path):
    c = Client(port)
    # A: most of the server's 64 KiB connection window is spent on an upload that is
    # then cancelled. The server must still credit the connection for those bytes
    # (RFC 9113 6.9: flow-controlled frames count even on a closed stream), or B
    # below, which needs far more than what is left, stalls. A_PATH decides whether
    # a handler holds A's bytes unread when the reset comes.
    a_body = 60_000
    a = c.open("POST", a_path, 1_000_000)
    c.send(a, pattern(a_body, 2), end=False)
    b_upload = pattern(200_000, 3)
    b = c.open("POST", "/echo", len(b_upload))
    c.send(b, b_upload[:1000], end=False)
    c.conn.reset_stream(a, error_code=h2.errors.ErrorCodes.CANCEL)
    c.flush()
    c.send(b, b_upload[1000:], end=True)
    s = c.wait(b)
    same = bytes(s.body) == b_upload
    print(f"B {s.status} {len(s.body)} bytes identical={same} reset={s.reset}")
    s = c.request("GET", "/")
    print(f"C {s.status} {bytes(s.body)!r}")
    # A must not have been answered with a reset of its own after ours (RFC 9113
    # 5.4.2); h2 records one only if it arrives before ours went out.
    print(f"A reset_by_server={c.streams[a].reset} goaway={c.goaway}")


if __name__ == "__main__":
    mode, port, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    {"basic": basic, "reset": reset}[mode](port, *rest)
