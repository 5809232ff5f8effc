//! Running `wrk` (pinned with `taskset`) and parsing its report.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use crate::load::Outcome;

/// One wrk invocation: `[setpriv --pdeathsig KILL] taskset -c CPU wrk -t1 -cN
/// -dSs --latency [-s script] [-H 'Connection: close'] URL`.
pub struct WrkCommand<'a> {
    /// Core wrk is pinned to.
    pub cpu: usize,
    /// Start wrk under `setpriv --pdeathsig KILL` (see [`crate::pin`]).
    pub pdeathsig: bool,
    /// Concurrent connections (`-c`).
    pub connections: u32,
    /// Lua script (`-s`), e.g. for pipelining.
    pub script: Option<&'a Path>,
    /// Send `Connection: close`: one request per connection.
    pub close: bool,
    /// Target URL.
    pub url: &'a str,
}

impl WrkCommand<'_> {
    /// wrk's arguments for a run of `secs` seconds.
    fn args(&self, secs: u64) -> Vec<String> {
        let mut args = vec![
            "-t1".to_string(),
            format!("-c{}", self.connections),
            format!("-d{secs}s"),
            "--latency".to_string(),
        ];
        if let Some(script) = self.script {
            args.extend(["-s".to_string(), script.display().to_string()]);
        }
        if self.close {
            args.extend(["-H".to_string(), "Connection: close".to_string()]);
        }
        args.push(self.url.to_string());
        args
    }

    /// The command line as shown in reports (without `setpriv`).
    pub fn display(&self, secs: u64) -> String {
        let cpu = self.cpu.to_string();
        let head = ["taskset", "-c", &cpu, "wrk"].map(String::from);
        crate::shell::join(head.into_iter().chain(self.args(secs)))
    }

    /// Runs wrk for `secs` seconds and parses its output.
    pub fn run(&self, secs: u64) -> Result<Outcome, String> {
        let mut cmd = crate::pin::pinned_command(self.cpu, self.pdeathsig);
        cmd.arg("wrk").args(self.args(secs));
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run taskset/wrk: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "wrk failed ({}):\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        parse(&stdout).ok_or_else(|| format!("cannot parse wrk output:\n{stdout}"))
    }
}

/// Checks that `wrk` is installed; returns its version line.
pub fn version() -> Result<String, String> {
    // `wrk --version` prints its banner and exits with status 1.
    let out = match Command::new("wrk").arg("--version").output() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err("`wrk` not found in PATH; install it (apt-get install -y wrk)".into())
        }
        Err(e) => return Err(format!("cannot run wrk: {e}")),
        Ok(out) => out,
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let first = text.lines().next().unwrap_or("wrk (unknown version)");
    // "wrk 4.2.0 [epoll] Copyright (C) 2012 Will Glozer" -> drop the copyright.
    let version = first.split(" Copyright").next().unwrap_or(first).trim();
    Ok(version.to_string())
}

/// Parses wrk's text report.
fn parse(out: &str) -> Option<Outcome> {
    let mut requests = None;
    let mut req_per_sec = None;
    let mut p50_us = None;
    let mut p99_us = None;
    let mut socket_errors = 0;
    let mut non_2xx = 0;
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            req_per_sec = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            socket_errors = v
                .split(',')
                .filter_map(|kv| kv.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
        } else if let Some(v) = line.strip_prefix("50%") {
            p50_us = parse_duration_us(v.trim());
        } else if let Some(v) = line.strip_prefix("99%") {
            p99_us = parse_duration_us(v.trim());
        } else if line.contains(" requests in ") {
            // "1698987 requests in 10.00s, 142.59MB read"
            requests = line.split_whitespace().next()?.parse().ok();
        }
    }
    Some(Outcome {
        requests: requests?,
        req_per_sec: req_per_sec?,
        latency_us: [p50_us, p99_us],
        errors: socket_errors + non_2xx,
        client_cpu: None,
    })
}

/// Parses a wrk (or h2load) duration such as `284.00us`, `1.23ms`, `2.00s`
/// or `1.50m` into microseconds.
pub fn parse_duration_us(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    // wrk prints `0.00us` for a percentile its histogram could not place
    // (seen under pipelining); report that as unknown rather than as zero.
    Some(num.parse::<f64>().ok()? * scale).filter(|&us| us > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Running 10s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   290.18us   50.12us   2.07ms   85.40%
    Req/Sec   170.71k     3.29k  175.92k    79.00%
  Latency Distribution
     50%  284.00us
     75%  303.00us
     90%  332.00us
     99%    1.46ms
  1698987 requests in 10.00s, 142.59MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec: 169895.93
Transfer/sec:     14.26MB
";

    #[test]
    fn parses_report() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.requests, 1_698_987);
        assert_eq!(r.req_per_sec, 169_895.93);
        assert_eq!(r.latency_us, [Some(284.0), Some(1460.0)]);
        assert_eq!(r.errors, 3 + 5);
        assert_eq!(parse_duration_us("0.00us"), None);
    }

    #[test]
    fn display() {
        let wrk = WrkCommand {
            cpu: 1,
            pdeathsig: true,
            connections: 50,
            script: None,
            close: true,
            url: "http://127.0.0.1:PORT/",
        };
        assert_eq!(
            wrk.display(10),
            "taskset -c 1 wrk -t1 -c50 -d10s --latency -H 'Connection: close' \
             http://127.0.0.1:PORT/"
        );
    }

    #[test]
    fn incomplete_report_is_rejected() {
        assert_eq!(parse("Running 10s test @ x\n"), None);
    }
}
