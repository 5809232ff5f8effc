//! The wrk scenarios (`keep-alive`, `pipelined`, `short`): throughput and
//! server CPU time per request.

use std::time::Instant;

use crate::procstat;
use crate::server::ServerProcess;
use crate::wrk::{WrkCommand, WrkResult};

/// What one measured wrk run gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// What wrk reported.
    pub wrk: WrkResult,
    /// Server CPU time (user + system, all threads) per request, in µs.
    pub cpu_us_per_req: f64,
    /// Server CPU time divided by wall time of the run (1.0 = one full core).
    pub cpu_utilisation: f64,
}

/// Runs an unmeasured warm-up of `warmup_secs` (if non-zero), then a
/// measured run of `secs`, reading the server's CPU time around the latter.
pub fn measure(
    proc: &ServerProcess,
    wrk: &WrkCommand,
    warmup_secs: u64,
    secs: u64,
    ticks_per_sec: u64,
    tag: &str,
) -> Result<Load, String> {
    if warmup_secs > 0 {
        eprintln!("{tag} warm-up {warmup_secs} s");
        wrk.run(warmup_secs)?;
        proc.check_alive()?;
    }
    eprintln!("{tag} measuring {secs} s");
    let cpu_before = procstat::cpu_ticks(proc.pid)?;
    let started = Instant::now();
    let result = wrk.run(secs)?;
    let wall = started.elapsed().as_secs_f64();
    let cpu_after = procstat::cpu_ticks(proc.pid)?;
    proc.check_alive()?;
    if result.requests == 0 {
        return Err(format!("{tag} wrk completed no requests"));
    }
    if result.socket_errors + result.non_2xx > 0 {
        eprintln!(
            "{tag} warning: {} socket errors, {} non-2xx/3xx responses",
            result.socket_errors, result.non_2xx
        );
    }
    let cpu_secs = cpu_after.saturating_sub(cpu_before) as f64 / ticks_per_sec as f64;
    let load = Load {
        cpu_us_per_req: cpu_secs * 1e6 / result.requests as f64,
        cpu_utilisation: cpu_secs / wall,
        wrk: result,
    };
    if load.cpu_utilisation < 0.9 {
        eprintln!(
            "{tag} warning: server used only {:.0}% of its core; wrk or another \
             process on the machine may be the bottleneck",
            load.cpu_utilisation * 100.0
        );
    }
    eprintln!(
        "{tag} {:.0} req/s, {:.2} CPU µs/req, server CPU {:.0}%",
        load.wrk.req_per_sec,
        load.cpu_us_per_req,
        load.cpu_utilisation * 100.0
    );
    Ok(load)
}
