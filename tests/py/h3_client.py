"""An independent HTTP/3 client for the interop tests: aioquic's QUIC and HTTP/3.

Usage: h3_client.py PORT REQUESTS_JSON

REQUESTS_JSON is a list of requests, sent at once on one connection to 127.0.0.1:PORT
(the certificate is not checked: the server's is made up at start):
    [{"method": "GET", "path": "/", "body": "text", "headers": [["x-a", "1"]]}, ...]
Prints one JSON object: {"responses": [...]}, each response
{"status": 200, "headers": [[name, value], ...], "body": "...", "body_len": N,
"reset": null or the stream error code}. "body" holds the first 64 KiB as text.
"""

import asyncio
import json
import ssl
import sys

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamReset


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.waiting = {}
        self.responses = {}

    def request(self, method, path, body, headers):
        stream = self._quic.get_next_available_stream_id()
        fields = [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", b"localhost"),
            (b":path", path.encode()),
        ] + [(n.encode(), v.encode()) for n, v in headers]
        self.h3.send_headers(stream, fields, end_stream=not body)
        if body:
            self.h3.send_data(stream, body.encode(), end_stream=True)
        self.responses[stream] = {
            "status": None,
            "headers": [],
            "body": b"",
            "body_len": 0,
            "reset": None,
        }
        done = self._loop.create_future()
        self.waiting[stream] = done
        self.transmit()
        return done

    def _finish(self, stream):
        done = self.waiting.pop(stream, None)
        if done is not None and not done.done():
            done.set_result(self.responses[stream])

    def quic_event_received(self, event):
        if isinstance(event, StreamReset) and event.stream_id in self.responses:
            self.responses[event.stream_id]["reset"] = event.error_code
            self._finish(event.stream_id)
            return
        for h3_event in self.h3.handle_event(event):
            response = self.responses.get(h3_event.stream_id)
            if response is None:
                continue
            if isinstance(h3_event, HeadersReceived):
                for name, value in h3_event.headers:
                    if name == b":status":
                        response["status"] = int(value)
                    else:
                        response["headers"].append([name.decode(), value.decode()])
            elif isinstance(h3_event, DataReceived):
                response["body_len"] += len(h3_event.data)
                if len(response["body"]) < 65536:
                    response["body"] += h3_event.data[: 65536 - len(response["body"])]
            if h3_event.stream_ended:
                self._finish(h3_event.stream_id)


async def main(port, requests):
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    config.verify_mode = ssl.CERT_NONE
    async with connect(
        "127.0.0.1", port, configuration=config, create_protocol=Client
    ) as client:
        pending = [
            client.request(
                r.get("method", "GET"),
                r["path"],
                r.get("body", ""),
                r.get("headers", []),
            )
            for r in requests
        ]
        responses = await asyncio.wait_for(asyncio.gather(*pending), 30)
    for r in responses:
        r["body"] = r["body"].decode(errors="replace")
    print(json.dumps({"responses": responses}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), json.loads(sys.argv[2])))
