"""A QPACK peer for interop tests: pylsqpack (ls-qpack) behind a line protocol.

One command per line on stdin, one answer per line on stdout. Byte strings are hex,
"-" when empty; a field is NAME:VALUE in hex.

  encoder CAPACITY BLOCKED   -> ok ENCODER_STREAM    (settings of the peer decoder)
  encode STREAM FIELD...     -> ok ENCODER_STREAM SECTION
  feed_decoder BYTES         -> ok
  decoder CAPACITY BLOCKED   -> ok
  feed_encoder BYTES         -> ok STREAM,STREAM...  (unblocked streams, or -)
  decode STREAM SECTION      -> ok DECODER_STREAM FIELD... | blocked | error MESSAGE
  resume STREAM              -> as decode
"""

import sys

import pylsqpack


def unhex(s):
    return b"" if s == "-" else bytes.fromhex(s)


def tohex(b):
    return b.hex() if b else "-"


def fields_in(words):
    return [tuple(unhex(part) for part in w.split(":")) for w in words]


def fields_out(headers):
    return [tohex(n) + ":" + tohex(v) for n, v in headers]


def decoded(result):
    control, headers = result
    return " ".join(["ok", tohex(control)] + fields_out(headers))


def main():
    encoder = decoder = None
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        op, args = words[0], words[1:]
        try:
            if op == "encoder":
                encoder = pylsqpack.Encoder()
                answer = "ok " + tohex(encoder.apply_settings(int(args[0]), int(args[1])))
            elif op == "encode":
                stream, section = encoder.encode(int(args[0]), fields_in(args[1:]))
                answer = "ok %s %s" % (tohex(stream), tohex(section))
            elif op == "feed_decoder":
                encoder.feed_decoder(unhex(args[0]))
                answer = "ok"
            elif op == "decoder":
                decoder = pylsqpack.Decoder(int(args[0]), int(args[1]))
                answer = "ok"
            elif op == "feed_encoder":
                unblocked = decoder.feed_encoder(unhex(args[0]))
                answer = "ok " + (",".join(str(s) for s in unblocked) or "-")
            elif op == "decode":
                answer = decoded(decoder.feed_header(int(args[0]), unhex(args[1])))
            elif op == "resume":
                answer = decoded(decoder.resume_header(int(args[0])))
            else:
                answer = "error unknown command " + op
        except pylsqpack.StreamBlocked:
            answer = "blocked"
        except Exception as e:  # noqa: BLE001 - every failure is reported to the test
            answer = "error " + type(e).__name__ + " " + str(e).replace("\n", " ")
        print(answer, flush=True)


if __name__ == "__main__":
    main()
