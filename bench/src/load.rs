//! The load scenarios (`keep-alive`, `pipelined`, `short` under wrk; `h2`,
//! `h2-64k` under h2load; `ws`, `ws-16k` under the harness's own `ws-load`;
//! `h3`, `h3-64k` under its own `h3-load`): throughput and server CPU time per
//! request (per echoed message for ws).

use std::time::Instant;

use crate::h2load::H2loadCommand;
use crate::h3_load::H3LoadCommand;
use crate::procstat;
use crate::server::ServerProcess;
use crate::wrk::WrkCommand;
use crate::ws_load::WsLoadCommand;

/// The share of its core below which a server was not what limited the rate
/// (the client, or another process on the machine, was).
pub const SATURATED: f64 = 0.9;

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
    /// did not succeed; ws-load: connections that got a wrong echo, none, or
    /// an I/O error; h3-load: streams that got an error, a status other than
    /// 200, a malformed response or none.
    pub errors: u64,
    /// The client's own CPU time, where it reports it (ws-load, h3-load).
    pub client_cpu: Option<ClientCpu>,
}

impl Outcome {
    /// The outcome our own load clients (ws-load, h3-load) report: `count` requests
    /// (echoed messages) in `secs`, `cpu_secs` of their own CPU, p50 and p99.
    pub fn from_own_client(
        count: u64,
        secs: f64,
        cpu_secs: f64,
        latency_us: [Option<f64>; 2],
        errors: u64,
    ) -> Outcome {
        Outcome {
            requests: count,
            req_per_sec: count as f64 / secs,
            latency_us,
            errors,
            client_cpu: (count > 0).then(|| ClientCpu {
                us_per_req: cpu_secs * 1e6 / count as f64,
                utilisation: cpu_secs / secs,
            }),
        }
    }
}

/// The load client's CPU time over its measured run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientCpu {
    /// CPU µs per completed request (echoed message).
    pub us_per_req: f64,
    /// CPU time over the run's wall time (1.0 = one full core).
    pub utilisation: f64,
}

/// The load generator of a scenario.
pub enum Client<'a> {
    /// Runs for a number of seconds.
    Wrk(WrkCommand<'a>),
    /// Runs for a number of requests.
    H2load(H2loadCommand<'a>),
    /// Runs for a number of seconds.
    WsLoad(WsLoadCommand<'a>),
    /// Runs for a number of seconds.
    H3Load(H3LoadCommand<'a>),
}

impl Client<'_> {
    /// One run of `amount` seconds (wrk) or requests (h2load).
    fn run(&self, amount: u64) -> Result<Outcome, String> {
        match self {
            Client::Wrk(wrk) => wrk.run(amount),
            Client::H2load(h2load) => h2load.run(amount),
            Client::WsLoad(ws) => ws.run(amount),
            Client::H3Load(h3) => h3.run(amount),
        }
    }

    /// The command line as shown in reports, for a run of `amount`.
    pub fn display(&self, amount: u64) -> String {
        match self {
            Client::Wrk(wrk) => wrk.display(amount),
            Client::H2load(h2load) => h2load.display(amount),
            Client::WsLoad(ws) => ws.display(amount),
            Client::H3Load(h3) => h3.display(amount),
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Client::Wrk(_) | Client::WsLoad(_) | Client::H3Load(_) => "s",
            Client::H2load(_) => "requests",
        }
    }

    /// What one completed unit is, in progress lines.
    fn per(&self) -> &'static str {
        match self {
            Client::Wrk(_) | Client::H2load(_) | Client::H3Load(_) => "req",
            Client::WsLoad(_) => "msg",
        }
    }

    /// What the client counts as an error.
    fn errors_meaning(&self) -> &'static str {
        match self {
            Client::Wrk(_) => "socket errors and non-2xx/3xx responses",
            Client::H2load(_) => "requests that did not succeed",
            Client::WsLoad(_) => "connections that got a wrong echo, none, or an I/O error",
            Client::H3Load(_) => "streams that got an error, a status other than 200 or no answer",
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
            "{tag} warning: {} errors ({})",
            result.errors,
            client.errors_meaning()
        );
    }
    let cpu_secs = cpu_after.saturating_sub(cpu_before) as f64 / ticks_per_sec as f64;
    let load = Load {
        cpu_us_per_req: cpu_secs * 1e6 / result.requests as f64,
        cpu_utilisation: cpu_secs / wall,
        client: result,
    };
    if load.cpu_utilisation < SATURATED {
        eprintln!(
            "{tag} warning: server used only {:.0}% of its core; the client or another \
             process on the machine may be the bottleneck",
            load.cpu_utilisation * 100.0
        );
    }
    let client_cpu = load.client.client_cpu.map_or(String::new(), |c| {
        format!(
            ", client {:.2} CPU µs/{} at {:.0}%",
            c.us_per_req,
            client.per(),
            c.utilisation * 100.0
        )
    });
    let per = client.per();
    eprintln!(
        "{tag} {:.0} {per}/s, {:.2} CPU µs/{per}, server CPU {:.0}%{client_cpu}",
        load.client.req_per_sec,
        load.cpu_us_per_req,
        load.cpu_utilisation * 100.0
    );
    Ok(load)
}
