//! Running `h2load` (Debian package `nghttp2-client`, pinned with `taskset`)
//! and parsing its report.

use std::io::{ErrorKind, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::load::Outcome;

/// Connections (`-c`).
pub const CONNECTIONS: u32 = 10;
/// Concurrent streams per connection (`-m`); roadrunner's default
/// `SETTINGS_MAX_CONCURRENT_STREAMS` is 100 (hyper's 200), so no stream is refused.
pub const STREAMS: u32 = 100;

/// h2load has no timeouts of its own by default: a server that stops answering
/// some streams leaves it waiting forever. Runs are sized to take seconds, so a
/// run still going after this long is reported as a stall.
const STALL_LIMIT: Duration = Duration::from_secs(120);
/// How often a running h2load is checked for having exited.
const POLL: Duration = Duration::from_millis(10);

/// What h2load reported, as far as the harness uses it.
#[derive(Debug, Clone, PartialEq)]
struct Report {
    /// Requests answered with 2xx or 3xx (h2load's `succeeded`).
    succeeded: u64,
    /// Requests that failed, HTTP-level failures included (`failed`).
    failed: u64,
    /// `succeeded` over the run's wall time, as h2load prints it.
    req_per_sec: f64,
    /// Bytes of response bodies received (`traffic: ..., N data`).
    data_bytes: u64,
    /// `time for request` mean and max, µs.
    mean_us: Option<f64>,
    max_us: Option<f64>,
}

/// One h2load invocation: `[setpriv --pdeathsig KILL] taskset -c CPU h2load
/// -c10 -m100 -nN URL`. h2load speaks prior-knowledge h2c to an `http://` URL.
pub struct H2loadCommand<'a> {
    /// Core h2load is pinned to.
    pub cpu: usize,
    /// Start h2load under `setpriv --pdeathsig KILL` (see [`crate::pin`]).
    pub pdeathsig: bool,
    /// Target URL.
    pub url: &'a str,
    /// Body bytes every response must carry, to catch truncated responses.
    pub body_len: u64,
}

impl H2loadCommand<'_> {
    /// h2load's arguments for a run of `requests` requests.
    fn args(&self, requests: u64) -> Vec<String> {
        vec![
            format!("-c{CONNECTIONS}"),
            format!("-m{STREAMS}"),
            format!("-n{requests}"),
            self.url.to_string(),
        ]
    }

    /// The command line as shown in reports (without `setpriv`).
    pub fn display(&self, requests: u64) -> String {
        let cpu = self.cpu.to_string();
        let head = ["taskset", "-c", &cpu, "h2load"].map(String::from);
        crate::shell::join(head.into_iter().chain(self.args(requests)))
    }

    /// Runs h2load for `requests` requests and parses its output. Anything
    /// short of every request succeeding with the whole body is printed to
    /// stderr with h2load's full report, since it points at a server bug.
    pub fn run(&self, requests: u64) -> Result<Outcome, String> {
        let mut cmd = crate::pin::pinned_command(self.cpu, self.pdeathsig);
        cmd.arg("h2load").args(self.args(requests));
        let out = run_with_stall_limit(cmd)?;
        let r = parse(&out).ok_or_else(|| format!("cannot parse h2load output:\n{out}"))?;
        let expected_data = r.succeeded * self.body_len;
        if r.failed > 0 || r.succeeded != requests || r.data_bytes != expected_data {
            eprintln!(
                "warning: h2load: {} of {requests} requests succeeded, {} failed, {} body \
                 bytes received for {expected_data} expected; h2load printed:\n{out}",
                r.succeeded, r.failed, r.data_bytes
            );
        }
        Ok(Outcome {
            requests: r.succeeded,
            req_per_sec: r.req_per_sec,
            latency_us: [r.mean_us, r.max_us],
            // Every request not answered 2xx/3xx: failed, or never done.
            errors: requests.saturating_sub(r.succeeded),
            client_cpu: None,
        })
    }
}

/// Sends one request (`-n1 -c1`, unpinned) and checks that it succeeded with
/// `body_len` body bytes, so a misbehaving server fails loudly instead of
/// producing fast nonsense.
pub fn smoke_check(url: &str, body_len: u64) -> Result<(), String> {
    let mut cmd = Command::new("h2load");
    cmd.args(["-n1", "-c1", url]);
    let out = run_with_stall_limit(cmd)?;
    match parse(&out) {
        Some(r) if r.succeeded == 1 && r.data_bytes == body_len => Ok(()),
        _ => Err(format!(
            "expected one success with {body_len} body bytes; h2load printed:\n{out}"
        )),
    }
}

/// Checks that `h2load` is installed; returns its version (`h2load nghttp2/1.52.0`).
pub fn version() -> Result<String, String> {
    match Command::new("h2load").arg("--version").output() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Err("`h2load` not found in PATH; install it (apt-get install -y nghttp2-client)".into())
        }
        Err(e) => Err(format!("cannot run h2load: {e}")),
        Ok(out) => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
    }
}

/// Runs `cmd` to completion and returns its stdout followed by its stderr;
/// kills it and fails with what it printed so far if it runs past [`STALL_LIMIT`].
fn run_with_stall_limit(mut cmd: Command) -> Result<String, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    // Drained on their own threads so h2load never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < STALL_LIMIT => std::thread::sleep(POLL),
            // Past the limit, or cannot tell: stop it, so the pipes close.
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = stdout.join().unwrap_or_default() + &stderr.join().unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(out),
        Some(s) => Err(format!("h2load failed ({s}):\n{out}")),
        None => Err(format!(
            "h2load stalled: still running after {} s, killed; it had printed:\n{out}",
            STALL_LIMIT.as_secs()
        )),
    }
}

/// Parses h2load's text report.
fn parse(out: &str) -> Option<Report> {
    let mut req_per_sec = None;
    let mut counts = None;
    let mut data_bytes = None;
    let (mut mean_us, mut max_us) = (None, None);
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("finished in ") {
            // "finished in 5.01s, 199560.34 req/s, 7.04MB/s"
            req_per_sec = v.split(", ").nth(1)?.strip_suffix(" req/s")?.parse().ok();
        } else if let Some(v) = line.strip_prefix("requests: ") {
            // "1000000 total, 1000000 started, 1000000 done, 999990 succeeded,
            // 10 failed, 10 errored, 0 timeout"
            let count = |name: &str| {
                v.split(", ")
                    .find_map(|kv| kv.strip_suffix(name)?.trim().parse::<u64>().ok())
            };
            counts = Some((count(" succeeded")?, count(" failed")?));
        } else if let Some(v) = line.strip_prefix("traffic: ") {
            // "7.04MB (7380042) total, 293.46KB (300502) headers (space
            // savings 95.24%), 12.40MB (13000000) data": the exact count is in
            // parentheses.
            let data = v.rsplit(", ").next()?.strip_suffix(" data")?;
            data_bytes = data
                .split_once('(')
                .and_then(|(_, n)| n.strip_suffix(')'))
                .unwrap_or(data.trim_end_matches('B'))
                .parse()
                .ok();
        } else if let Some(v) = line.strip_prefix("time for request:") {
            // "min max mean sd +/- sd": "185us 30.31ms 9.75ms 2.68ms 72.51%"
            let cols: Vec<&str> = v.split_whitespace().collect();
            max_us = cols.get(1).and_then(|c| crate::wrk::parse_duration_us(c));
            mean_us = cols.get(2).and_then(|c| crate::wrk::parse_duration_us(c));
        }
    }
    let (succeeded, failed) = counts?;
    Some(Report {
        succeeded,
        failed,
        req_per_sec: req_per_sec?,
        data_bytes: data_bytes?,
        mean_us,
        max_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
starting benchmark...
spawning thread #0: 10 total client(s). 1000000 total requests
Application protocol: h2c
progress: 10% done
finished in 5.01s, 199560.34 req/s, 7.04MB/s
requests: 1000000 total, 1000000 started, 1000000 done, 999990 succeeded, 10 failed, 10 errored, 0 timeout
status codes: 999990 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 7.04MB (7380042) total, 293.46KB (300502) headers (space savings 95.24%), 12.40MB (12999870) data
                     min         max         mean         sd        +/- sd
time for request:      185us     30.31ms      4.98ms      2.68ms    72.51%
time for connect:      135us      1.44ms       831us       419us    60.00%
time to 1st byte:     1.62ms      2.72ms      2.19ms       364us    60.00%
req/s           :   19956.21    19960.10    19958.03        1.10    60.00%
";

    #[test]
    fn parses_report() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.succeeded, 999_990);
        assert_eq!(r.failed, 10);
        assert_eq!(r.req_per_sec, 199_560.34);
        assert_eq!(r.data_bytes, 12_999_870);
        assert_eq!(r.mean_us, Some(4980.0));
        assert_eq!(r.max_us, Some(30_310.0));
    }

    #[test]
    fn incomplete_report_is_rejected() {
        assert_eq!(parse("starting benchmark...\n"), None);
    }

    #[test]
    fn display() {
        let h2load = H2loadCommand {
            cpu: 1,
            pdeathsig: true,
            url: "http://127.0.0.1:PORT/big?bytes=65536",
            body_len: 65_536,
        };
        assert_eq!(
            h2load.display(1000),
            "taskset -c 1 h2load -c10 -m100 -n1000 'http://127.0.0.1:PORT/big?bytes=65536'"
        );
    }
}
