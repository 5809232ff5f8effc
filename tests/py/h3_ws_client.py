"""WebSocket over HTTP/3 (RFC 9220) with aioquic, for the interop tests.

Usage: h3_ws_client.py PORT PATH MESSAGE...

Opens an extended CONNECT (`:protocol websocket`) to 127.0.0.1:PORT (certificate not
checked), sends each MESSAGE as a masked text frame and reads its echo, then closes
with 1000. Prints one JSON object: {"status": 200, "settings_connect": true,
"echoes": [...], "close_code": 1000}.
"""

import asyncio
import json
import os
import ssl
import struct
import sys

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


def client_frame(opcode, payload):
    key = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def server_frame(buf):
    """(opcode, payload, rest) for one whole frame at the start of buf, or None."""
    if len(buf) < 2:
        return None
    opcode, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack("!Q", buf[2:10])[0], 10
    if len(buf) < at + n:
        return None
    return opcode, buf[at : at + n], buf[at + n :]


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.stream = None
        self.status = asyncio.get_event_loop().create_future()
        self.buf = b""
        self.frames = asyncio.Queue()

    def open(self, path):
        self.stream = self._quic.get_next_available_stream_id()
        self.h3.send_headers(
            self.stream,
            [
                (b":method", b"CONNECT"),
                (b":protocol", b"websocket"),
                (b":scheme", b"https"),
                (b":authority", b"localhost"),
                (b":path", path.encode()),
                (b"sec-websocket-version", b"13"),
            ],
        )
        self.transmit()

    def send(self, data):
        self.h3.send_data(self.stream, data, end_stream=False)
        self.transmit()

    def quic_event_received(self, event):
        for h3_event in self.h3.handle_event(event):
            if getattr(h3_event, "stream_id", None) != self.stream:
                continue
            if isinstance(h3_event, HeadersReceived) and not self.status.done():
                status = dict(h3_event.headers).get(b":status", b"0")
                self.status.set_result(int(status))
            elif isinstance(h3_event, DataReceived):
                self.buf += h3_event.data
                while (frame := server_frame(self.buf)) is not None:
                    opcode, payload, self.buf = frame
                    self.frames.put_nowait((opcode, payload))


async def main(port, path, messages):
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    config.verify_mode = ssl.CERT_NONE
    async with connect(
        "127.0.0.1", port, configuration=config, create_protocol=Client
    ) as client:
        # The server must have offered extended CONNECT before the client uses it.
        await client.wait_connected()
        for _ in range(100):
            if client.h3.received_settings is not None:
                break
            await asyncio.sleep(0.01)
        settings_connect = (client.h3.received_settings or {}).get(0x08) == 1
        client.open(path)
        status = await asyncio.wait_for(client.status, 10)
        echoes = []
        for message in messages:
            client.send(client_frame(0x1, message.encode()))
            opcode, payload = await asyncio.wait_for(client.frames.get(), 10)
            echoes.append(payload.decode() if opcode == 0x1 else None)
        client.send(client_frame(0x8, struct.pack("!H", 1000)))
        opcode, payload = await asyncio.wait_for(client.frames.get(), 10)
        close_code = struct.unpack("!H", payload[:2])[0] if opcode == 0x8 else None
    print(
        json.dumps(
            {
                "status": status,
                "settings_connect": settings_connect,
                "echoes": echoes,
                "close_code": close_code,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3:]))
