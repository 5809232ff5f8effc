//! The load scenarios (`keep-alive`, `pipelined`, `short` under wrk; `h2`,
//! `h2-64k` under h2load): throughput and server CPU time per request.

use std::time::Instant;

use crate::h2load::H2loadCommand;
use crate::procstat;
use crate::server::ServerProcess;
use crate::wrk::WrkCommand;

/// What a load generator reported for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Completed requests: every response wrk read (with a pipelining script
    /// too), or every request h2load saw succeed.
    pub requests: u64,
    /// Requests per second as the client printed it.
    pub req_per_sec: f64,
    /// Two latency figures in µs: wrk's p50 and p99 (per batch when
    /// pipelining), or h2load's mean and max time for a request.
    pub latency_us: [Option<f64>; 2],
    /// wrk: socket errors plus non-2xx/3xx responses; h2load: requests that
    /// did not succeed.
    pub errors: u64,
}

/// The load generator of a scenario.
pub enum Client<'a> {
    /// Runs for a number of seconds.
    Wrk(WrkCommand<'a>),
    /// Runs for a number of requests.
    H2load(H2loadCommand<'a>),
}

impl Client<'_> {
    /// One run of `amount` seconds (wrk) or requests (h2load).
    fn run(&self, amount: u64) -> Result<Outcome, String> {
        match self {
            Client::Wrk(wrk) => wrk.run(amount),
            Client::H2load(h2load) => h2load.run(amount),
        }
    }

    /// The command line as shown in reports, for a run of `amount`.
    pub fn display(&self, amount: u64) -> String {
        match self {
            Client::Wrk(wrk) => wrk.display(amount),
            Client::H2load(h2load) => h2load.display(amount),
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Client::Wrk(_) => "s",
            Client::H2load(_) => "requests",
        }
    }
}

/// What one measured run gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// What the client reported.
    pub client: Outcome,
    /// Server CPU time (user + system, all threads) per request, in µs.
    pub cpu_us_per_req: f64,
    /// Server CPU time divided by wall time of the run (1.0 = one full core).
    pub cpu_utilisation: f64,
}

/// Runs an unmeasured warm-up of `warmup` seconds or requests (if non-zero),
/// then a measured run of `amount`, reading the server's CPU time around the
/// latter.
pub fn measure(
    proc: &ServerProcess,
    client: &Client,
    warmup: u64,
    amount: u64,
    ticks_per_sec: u64,
    tag: &str,
) -> Result<Load, String> {
    let unit = client.unit();
    if warmup > 0 {
        eprintln!("{tag} warm-up {warmup} {unit}");
        client.run(warmup)?;
        proc.check_alive()?;
    }
    eprintln!("{tag} measuring {amount} {unit}");
    let cpu_before = procstat::cpu_ticks(proc.pid)?;
    let started = Instant::now();
    let result = client.run(amount)?;
    let wall = started.elapsed().as_secs_f64();
    let cpu_after = procstat::cpu_ticks(proc.pid)?;
    proc.check_alive()?;
    if result.requests == 0 {
        return Err(format!("{tag} the client completed no requests"));
    }
    if result.errors > 0 {
        eprintln!(
            "{tag} warning: {} errors (wrk: socket errors and non-2xx/3xx responses; \
             h2load: requests that did not succeed)",
            result.errors
        );
    }
    let cpu_secs = cpu_after.saturating_sub(cpu_before) as f64 / ticks_per_sec as f64;
    let load = Load {
        cpu_us_per_req: cpu_secs * 1e6 / result.requests as f64,
        cpu_utilisation: cpu_secs / wall,
        client: result,
    };
    if load.cpu_utilisation < 0.9 {
        eprintln!(
            "{tag} warning: server used only {:.0}% of its core; the client or another \
             process on the machine may be the bottleneck",
            load.cpu_utilisation * 100.0
        );
    }
    eprintln!(
        "{tag} {:.0} req/s, {:.2} CPU µs/req, server CPU {:.0}%",
        load.client.req_per_sec,
        load.cpu_us_per_req,
        load.cpu_utilisation * 100.0
    );
    Ok(load)
}
