//! The `--markdown` document: run facts, then a section per scenario.

use std::fmt::Write;

use crate::cli::Scenario;
use crate::report::Section;

/// Facts about the run that go into the document.
pub struct Meta {
    /// The exact command line.
    pub command: String,
    /// UTC timestamp, RFC 3339.
    pub date: String,
    /// Number of CPUs available (as `nproc` reports).
    pub nproc: usize,
    /// CPU model from `/proc/cpuinfo`, if known.
    pub cpu_model: Option<String>,
    /// wrk's version banner, if a wrk scenario ran.
    pub wrk_version: Option<String>,
    /// h2load's version, if an h2 scenario ran.
    pub h2load_version: Option<String>,
    /// Whether a WebSocket scenario ran (ws-load, timed like wrk).
    pub ws: bool,
    /// Whether an HTTP/3 scenario ran (h3-load, timed like wrk).
    pub h3: bool,
    /// Measured seconds per wrk, ws-load and h3-load run.
    pub duration_secs: u64,
    /// Warm-up seconds before each wrk, ws-load and h3-load run.
    pub warmup_secs: u64,
}

const INTRO: &str = "\
Each server runs alone, pinned to core 0 (`taskset -c 0`) with one worker thread \
(`ROADRUNNER_WORKERS=1`; hyper on a tokio current-thread runtime); the load generator \
(wrk, or h2load in the h2 scenarios) runs pinned to core 1 with one thread, after an \
unmeasured warm-up run. *CPU µs/req* is the server's user+system CPU time over the \
measured run (`/proc/PID/stat`, all threads) divided by the requests the client \
completed; *server CPU* is that CPU time over wall time (100% = the whole core; well \
below 100% means the server was not the bottleneck). Latencies are wrk's percentiles \
(– where wrk printed none), or h2load's mean and max.

Baselines: **hyper** is hyper 1.x `http1::Builder` with its defaults plus keep-alive, \
as a plain hello world uses it (`pipeline_flush` off: one write per response); \
**hyper-flush** adds `pipeline_flush(true)`, which batches pipelined responses into \
one write. The `÷ hyper` columns compare against the plain one, the `÷ hyper-flush` \
columns against the flushing one (higher req/s and lower CPU/req are better). **floor** \
(keep-alive and pipelined) is the canned-reply floor, `roadrunner-bench floor-server`: \
tokio reading each socket, counting requests by their blank line (no parsing) and \
writing the demo's `GET /` response bytes (a fixed `date`) once per request, one write \
per read: what the kernel and the runtime cost without any HTTP work. The h2 \
scenarios compare against **hyper-h2**, hyper's HTTP/2 server. All servers answer \
`GET /` with `200 text/plain \"Hello, world!\"`.

The ws scenarios echo WebSocket messages instead: the client is the harness's own \
`roadrunner-bench ws-load` (pinned to core 1, one thread), and the baselines are echo \
servers built in the harness on a tokio current-thread runtime: **fastwebsockets** \
(its `echo_server` example: hyper 1 handshake, `FragmentCollector`) and **tungstenite** \
(`tokio_tungstenite::accept_async`, `next()`/`send()`), beside **ws-floor**, the \
least a server can do per message (one `epoll` loop, no runtime: one `recv` and one \
`send` per echo); roadrunner serves the demo's `/ws`. The `÷ fastwebsockets` and `÷ tungstenite` columns compare against them; \
*client CPU* is ws-load's own CPU time (`getrusage`) over its measured run, and *p50* \
and *p99* are its round-trip times per message.

The h3 scenarios load HTTP/3 (QUIC on UDP, TLS 1.3) with the harness's own \
`roadrunner-bench h3-load` (pinned to core 1, one thread: plain quinn with a minimal \
HTTP/3 request loop of its own), against **h3-quinn**, the `h3` crate's server on \
`h3-quinn`, built in the harness on a tokio current-thread runtime; the `÷ h3-quinn` \
columns compare against it. *client CPU* is h3-load's own CPU time over its measured \
run, and *p50* and *p99* its times per request.
";

/// What a scenario measures, in a sentence or two.
fn explanation(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::KeepAlive => {
            "One request in flight on each keep-alive connection. hyper has no \
             per-connection request limit, so roadrunner runs with \
             `--max-keep-alive-requests 1000000`; the `(limit 1000)` row keeps \
             roadrunner's default of 1000 (it then closes the connection and wrk \
             reconnects), to show what that default costs."
        }
        Scenario::Pipelined => {
            "Each connection writes 16 `GET /` at once (`bench/wrk/pipeline.lua`) and \
             waits for the 16 responses; wrk counts every response, and latencies are \
             per batch. Request limits as in keep-alive."
        }
        Scenario::Short => {
            "One request per connection: wrk sends `Connection: close`, the server \
             answers and closes, wrk reconnects, so connection setup and teardown \
             dominate. `--no-graceful-drain` (`graceful_drain = false`) stops \
             connections registering for drain notices; the lines under the table give \
             the CPU per request it saves."
        }
        Scenario::Memory => {
            "Resident memory per idle keep-alive connection: the server's `VmRSS` \
             (`/proc/PID/status`) 0.5 s after start-up, then the harness opens N \
             connections (500 at a time), sends one `GET /` on each and reads the \
             response, leaves them open and idle for 2.5 s (longer than \
             `--hibernate-after 1000`) and reads `VmRSS` again: *KiB / idle conn* = \
             (after − before) / N. *KiB / conn at open* uses the reading taken right \
             after the last connection opened, before any could hibernate. Kernel socket \
             buffers are not in RSS, and memory the allocator keeps after `free` still is."
        }
        Scenario::H2 => {
            "HTTP/2 with prior-knowledge h2c: h2load (pinned to core 1, one thread) \
             keeps 10 connections with 100 concurrent streams each busy with `GET /` \
             until N requests have succeeded, after an unmeasured run of N/10. \
             *req/s* is h2load's (successes over its wall time) and *CPU µs/req* the \
             server's CPU time over the successes; *mean* and *max* are h2load's time \
             for a request, which at 1000 streams in flight is mostly queueing. The \
             baseline **hyper-h2** is hyper 1.x `http2::Builder` with its defaults \
             (at most 200 streams per connection; roadrunner allows 100); the \
             roadrunner servers speak only HTTP/2 (`--protocols http2`)."
        }
        Scenario::H2Big => {
            "As `h2`, against `GET /big?bytes=65536`: a 64 KiB body that both servers \
             stream in 16 KiB pieces without knowing its length ahead (no \
             `content-length`). h2load's flow-control windows are 1 GiB, so the \
             servers' writes, not the client's window updates, set the pace. The \
             harness checks that h2load received exactly 64 KiB per request."
        }
        Scenario::Ws => {
            "WebSocket echo, 100 connections × 20-byte binary messages. ws-load completes \
             each connection's opening handshake without offering permessage-deflate, so \
             every server echoes uncompressed frames, then runs a closed loop on each: \
             one masked message (a fresh masking key each), wait for the echo, check it \
             byte for byte against what was sent (a sequence number leads each payload), \
             repeat, for the measured seconds. *msg/s* counts echoes received over the \
             client's measured span; *CPU µs/msg* is the server's CPU time (handshakes \
             included, a few ms in all) over those echoes. A connection that gets a wrong \
             echo, another frame, no echo within 10 s or an I/O error stops and counts \
             in *errors*. On two cores the client spends about what a fast server does \
             per message, so msg/s tends to sit near 1.0× between fast servers: CPU per \
             message is the figure to compare."
        }
        Scenario::Ws16k => {
            "As `ws`, with 20 connections × 16 KiB binary messages: the payload's passes \
             (unmasking, copying, the kernel's copies) rather than per-message overheads \
             set the cost."
        }
        Scenario::H3 => {
            "HTTP/3: h3-load opens 10 QUIC connections (TLS 1.3, ALPN `h3`, the \
             self-signed certificates not checked), each with its control stream and an \
             empty SETTINGS (QPACK dynamic table capacity 0), then keeps 50 request \
             streams busy on each, in a closed loop, with `GET /`: a pre-encoded HEADERS \
             frame (QPACK static table and literals), the response's frames read to the \
             stream's end, `:status: 200` checked. *req/s* counts responses over the \
             client's measured span and *CPU µs/req* is the server's CPU time (the 10 \
             handshakes included) over them; *p50* and *p99* are the times per request, \
             mostly queueing at 500 in flight. The client and the h3-quinn server ask \
             for a 32 MiB UDP receive buffer, so bursts are not dropped. The baseline \
             **h3-quinn** runs `h3` 0.0.8 with its defaults on `h3-quinn` and quinn 0.11 \
             (quinn's default transport: 100 streams per connection, as roadrunner's \
             `max_streams_bidi`); roadrunner \
             serves HTTP/1.1, HTTP/2 and HTTP/3 (`--tls --protocols http1,http2,http3`), \
             HTTP/3 on the UDP port of its TCP port's number."
        }
        Scenario::H1Speed => {
            "The HTTP/1.1 speed targets side by side. The keep-alive and pipelined \
             tables above (hyper, hyper-flush, the floor and roadrunner, in this run) \
             give the wrk figures; `roadrunner-bench-inproc`, pinned to the server's \
             core, gives those without a kernel: the user-space path per request (one \
             connection of the real server, the demo's `GET /`, driven through the \
             runtime traits over an in-memory stream, as `server-core/benches/driver.rs`), \
             the codec against the bare httparse-plus-`HeaderMap` floor (the inputs of \
             `codec-h1/benches/codec.rs`), each the median of 5 interleaved rounds of \
             the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`: time the core spent on \
             other processes is not counted) after a warm-up, and the heap allocations per kept-alive \
             request, counted exactly by that binary's global allocator over 10,000 \
             requests after 1,000 of warm-up. *ratio* is roadrunner ÷ baseline; rows \
             without a target are there for comparison."
        }
        Scenario::H3Big => {
            "As `h3`, against `GET /big?bytes=65536`: a 64 KiB body that every server \
             sends in 16 KiB pieces without announcing its length. The harness checks that \
             h3-load received exactly 64 KiB per request."
        }
    }
}

/// The whole document.
pub fn document(sections: &[Section], meta: &Meta) -> String {
    let mut out = String::from("# roadrunner benchmarks\n\n");
    let _ = writeln!(out, "- command: `{}`", meta.command);
    let _ = writeln!(out, "- date: {}", meta.date);
    let _ = writeln!(out, "- nproc: {}", meta.nproc);
    if let Some(model) = &meta.cpu_model {
        let _ = writeln!(out, "- CPU: {model}");
    }
    if let Some(version) = &meta.wrk_version {
        let _ = writeln!(out, "- wrk: {version}");
    }
    let timed: Vec<&str> = [
        (meta.wrk_version.is_some(), "wrk"),
        (meta.ws, "ws-load"),
        (meta.h3, "h3-load"),
    ]
    .into_iter()
    .filter_map(|(ran, client)| ran.then_some(client))
    .collect();
    if let Some((last, rest)) = timed.split_last() {
        let clients = if rest.is_empty() {
            last.to_string()
        } else {
            format!("{} and {last}", rest.join(", "))
        };
        let _ = writeln!(
            out,
            "- {clients} runs: {} s measured after {} s warm-up",
            meta.duration_secs, meta.warmup_secs
        );
    }
    if let Some(version) = &meta.h2load_version {
        let _ = writeln!(out, "- h2load: {version}");
    }
    out.push('\n');
    out.push_str(INTRO);
    for s in sections {
        let _ = writeln!(
            out,
            "\n## {}\n\n{}\n",
            s.scenario.name(),
            explanation(s.scenario)
        );
        for command in &s.commands {
            let _ = writeln!(out, "- {command}");
        }
        out.push('\n');
        out.push_str(&s.render());
    }
    out
}

/// Formats a Unix timestamp (seconds) as an RFC 3339 UTC date-time.
pub fn rfc3339_utc(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_735_689_599), "2024-12-31T23:59:59Z");
    }
}
