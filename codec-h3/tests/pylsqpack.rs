//! Interop with an independent QPACK implementation: ls-qpack, through Python's
//! pylsqpack (tests/py/qpack_peer.py). Its encoder, with a dynamic table and blocked
//! streams allowed, against our decoder; our encoder against its decoder. Sections
//! are delivered before the encoder-stream bytes they need, so both decoders block
//! and resume; each decoder's stream goes back to the other side's encoder.
//!
//! Skipped, saying so, where `python3 -c 'import pylsqpack'` fails.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use roadrunner_h3::qpack::{Decoder, DecoderConfig, Encoder};
use roadrunner_h3::Settings;

type Field = (Vec<u8>, Vec<u8>);

const CAPACITY: u64 = 4096;
const BLOCKED: u64 = 16;

fn pylsqpack_missing() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import pylsqpack"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIPPED: python3 with pylsqpack not found (pip install pylsqpack)");
    }
    !found
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn() -> Peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/qpack_peer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Peer {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one command; returns the answer's words after "ok", or the whole answer
    /// as an error.
    fn ask(&mut self, command: &str) -> Result<Vec<String>, String> {
        writeln!(self.stdin, "{command}").expect("peer reads");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("peer answers");
        let mut words = line.split_whitespace().map(str::to_owned);
        match words.next().as_deref() {
            Some("ok") => Ok(words.collect()),
            _ => Err(line.trim().to_owned()),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // It holds nothing worth a clean exit.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "-".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from the peer"))
        .collect()
}

fn fields_hex(fields: &[Field]) -> String {
    let words: Vec<String> = fields
        .iter()
        .map(|(n, v)| format!("{}:{}", hex(n), hex(v)))
        .collect();
    words.join(" ")
}

fn fields_from(words: &[String]) -> Vec<Field> {
    words
        .iter()
        .map(|w| {
            let (n, v) = w.split_once(':').expect("NAME:VALUE");
            (unhex(n), unhex(v))
        })
        .collect()
}

fn field(name: &str, value: &str) -> Field {
    (name.into(), value.into())
}

/// Requests as a browser sends them: the same agent, accept fields and cookie each
/// time, a new path.
fn requests() -> Vec<Vec<Field>> {
    (0..12)
        .map(|i| {
            vec![
                field(":method", if i % 3 == 2 { "POST" } else { "GET" }),
                field(":scheme", "https"),
                field(":authority", "shop.example.com"),
                field(":path", &format!("/catalog/item/{i}?ref=list")),
                field(
                    "user-agent",
                    "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
                ),
                field("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
                field("accept-language", "en-GB,en;q=0.5"),
                field("accept-encoding", "gzip, deflate, br, zstd"),
                field("cookie", "session=7f3a9c2e4b1d; theme=dark"),
                field("x-request-seq", &i.to_string()),
            ]
        })
        .collect()
}

/// Responses as a server sends them: the same server, type and cache policy.
fn responses() -> Vec<Vec<Field>> {
    (0..12)
        .map(|i| {
            vec![
                field(":status", if i % 4 == 3 { "404" } else { "200" }),
                field("server", "roadrunner/0.1"),
                field("content-type", "text/html; charset=utf-8"),
                field("cache-control", "private, max-age=60"),
                field("vary", "accept-encoding"),
                field("date", "Tue, 04 Mar 2025 10:00:00 GMT"),
                field("content-length", &(1000 + 37 * i).to_string()),
                field("x-trace", &format!("trace-{i:04}")),
            ]
        })
        .collect()
}

fn pairs(section: &roadrunner_h3::FieldSection) -> Vec<Field> {
    section
        .fields()
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect()
}

/// Their encoder, our decoder: returns the sizes of the encoded sections and how many
/// of them blocked.
fn their_encoder_our_decoder(capacity: u64) -> (Vec<usize>, usize) {
    let mut peer = Peer::spawn();
    let mut decoder = Decoder::new(DecoderConfig {
        max_table_capacity: capacity as usize,
        max_blocked_streams: BLOCKED as usize,
        max_field_section_size: 64 * 1024,
    });
    let setup = peer
        .ask(&format!("encoder {capacity} {BLOCKED}"))
        .expect("encoder");
    decoder
        .feed_encoder_stream(&unhex(&setup[0]))
        .expect("their capacity instruction");
    let (mut sizes, mut blocked) = (Vec::new(), 0);
    for (i, fields) in requests().iter().enumerate() {
        let stream = 4 * i as u64;
        let answer = peer
            .ask(&format!("encode {stream} {}", fields_hex(fields)))
            .expect("encode");
        let (inserts, section) = (unhex(&answer[0]), unhex(&answer[1]));
        sizes.push(section.len());
        // The section first: it blocks if it needs the inserts sent with it.
        let decoded = match decoder.decode(stream, section.into()).expect("decodes") {
            Some(done) => {
                decoder.feed_encoder_stream(&inserts).expect("inserts");
                done
            }
            None => {
                blocked += 1;
                decoder.feed_encoder_stream(&inserts).expect("inserts");
                let (unblocked, done) = decoder.poll_unblocked().expect("unblocked");
                assert_eq!(unblocked, stream);
                done.expect("decodes")
            }
        };
        assert_eq!(&pairs(&decoded), fields, "request {i}");
        let mut back = Vec::new();
        decoder.poll_stream(&mut back);
        peer.ask(&format!("feed_decoder {}", hex(&back)))
            .expect("they take our decoder stream");
    }
    (sizes, blocked)
}

/// Our encoder, their decoder: returns the sizes of the encoded sections and how many
/// of them blocked.
fn our_encoder_their_decoder(capacity: u64) -> (Vec<usize>, usize) {
    let mut peer = Peer::spawn();
    peer.ask(&format!("decoder {capacity} {BLOCKED}"))
        .expect("decoder");
    let mut encoder = Encoder::new(4096);
    encoder.apply_settings(&Settings {
        qpack_max_table_capacity: Some(capacity),
        qpack_blocked_streams: Some(BLOCKED),
        ..Settings::default()
    });
    let (mut sizes, mut blocked) = (Vec::new(), 0);
    for (i, fields) in responses().iter().enumerate() {
        let stream = 4 * i as u64;
        let mut section = Vec::new();
        encoder.encode(
            stream,
            fields.iter().map(|(n, v)| (&n[..], &v[..])),
            &mut section,
        );
        sizes.push(section.len());
        let mut inserts = Vec::new();
        encoder.poll_stream(&mut inserts);
        let answer = match peer.ask(&format!("decode {stream} {}", hex(&section))) {
            Ok(answer) => {
                peer.ask(&format!("feed_encoder {}", hex(&inserts)))
                    .expect("our encoder stream");
                answer
            }
            Err(answer) => {
                assert_eq!(answer, "blocked", "response {i}");
                blocked += 1;
                let unblocked = peer
                    .ask(&format!("feed_encoder {}", hex(&inserts)))
                    .expect("our encoder stream");
                assert_eq!(unblocked, [stream.to_string()]);
                peer.ask(&format!("resume {stream}")).expect("resumes")
            }
        };
        assert_eq!(&fields_from(&answer[1..]), fields, "response {i}");
        encoder
            .feed_decoder_stream(&unhex(&answer[0]))
            .expect("their decoder stream");
    }
    (sizes, blocked)
}

fn report(
    what: &str,
    (with_table, blocked): (Vec<usize>, usize),
    (without, none): (Vec<usize>, usize),
) {
    let total = |s: &[usize]| s.iter().sum::<usize>();
    eprintln!(
        "{what}: with a {CAPACITY}-byte table {with_table:?} = {} bytes ({blocked} blocked); \
         static only {without:?} = {} bytes",
        total(&with_table),
        total(&without)
    );
    assert!(blocked > 0, "the decoder never had to wait for inserts");
    assert_eq!(none, 0);
    // The table pays for itself from the second section on.
    assert!(with_table[1..].iter().all(|&n| n * 2 < with_table[0]));
    assert!(total(&with_table) * 2 < total(&without));
}

#[test]
fn pylsqpack_encodes_what_we_decode() {
    if pylsqpack_missing() {
        return;
    }
    let with_table = their_encoder_our_decoder(CAPACITY);
    let without = their_encoder_our_decoder(0);
    report("pylsqpack -> roadrunner", with_table, without);
}

#[test]
fn we_encode_what_pylsqpack_decodes() {
    if pylsqpack_missing() {
        return;
    }
    let with_table = our_encoder_their_decoder(CAPACITY);
    let without = our_encoder_their_decoder(0);
    report("roadrunner -> pylsqpack", with_table, without);
}
