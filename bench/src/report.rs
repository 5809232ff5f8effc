//! The markdown results table and the `--markdown` document around it.

use std::fmt::Write;

use crate::wrk::WrkResult;

/// The server every other server is compared against.
pub const BASELINE: &str = "hyper";

/// One measured (scenario, server) pair.
pub struct Row {
    /// Scenario name, e.g. `keep-alive`.
    pub scenario: &'static str,
    /// Server name, e.g. `hyper` or `roadrunner-tokio`.
    pub server: &'static str,
    /// What wrk reported for the measured run.
    pub wrk: WrkResult,
    /// Server CPU time (user + system, all threads) per request, in µs.
    pub cpu_us_per_req: f64,
    /// Server CPU time divided by wall time of the run (1.0 = one full core).
    pub cpu_utilisation: f64,
}

/// Facts about the run that go into the `--markdown` document.
pub struct Meta {
    /// The exact command line.
    pub command: String,
    /// UTC timestamp, RFC 3339.
    pub date: String,
    /// Number of CPUs available (as `nproc` reports).
    pub nproc: usize,
    /// CPU model from `/proc/cpuinfo`, if known.
    pub cpu_model: Option<String>,
    /// wrk's version banner.
    pub wrk_version: String,
    /// Measured seconds per run.
    pub duration_secs: u64,
    /// Warm-up seconds before each measured run.
    pub warmup_secs: u64,
    /// wrk connections.
    pub connections: u32,
}

/// Renders the results as a markdown table, one line per row, with ratios
/// against the hyper row of the same scenario (if hyper was benchmarked).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| scenario | server | req/s | CPU µs/req | req/s vs hyper | CPU/req vs hyper \
         | server CPU | p50 | p99 | errors |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let base = rows
            .iter()
            .find(|b| b.scenario == row.scenario && b.server == BASELINE);
        let (rps_ratio, cpu_ratio) = match base {
            Some(b) => (
                ratio(row.wrk.req_per_sec, b.wrk.req_per_sec),
                ratio(row.cpu_us_per_req, b.cpu_us_per_req),
            ),
            None => ("–".into(), "–".into()),
        };
        let errors = row.wrk.socket_errors + row.wrk.non_2xx;
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {} | {} | {:.0}% | {} | {} | {} |",
            row.scenario,
            row.server,
            row.wrk.req_per_sec,
            row.cpu_us_per_req,
            rps_ratio,
            cpu_ratio,
            row.cpu_utilisation * 100.0,
            latency(row.wrk.p50_us),
            latency(row.wrk.p99_us),
            errors,
        );
    }
    out
}

/// The full `--markdown` document: how the numbers were obtained, then the table.
pub fn document(rows: &[Row], meta: &Meta) -> String {
    let mut out = String::from("# roadrunner benchmarks\n\n");
    let _ = writeln!(out, "- command: `{}`", meta.command);
    let _ = writeln!(out, "- date: {}", meta.date);
    let _ = writeln!(out, "- nproc: {}", meta.nproc);
    if let Some(model) = &meta.cpu_model {
        let _ = writeln!(out, "- CPU: {model}");
    }
    let _ = writeln!(out, "- wrk: {}", meta.wrk_version);
    let _ = writeln!(
        out,
        "- runs: {} s measured after {} s warm-up, `wrk -t1 -c{}`",
        meta.duration_secs, meta.warmup_secs, meta.connections
    );
    out.push_str(
        "\nEach server runs alone, pinned to core 0 (`taskset -c 0`); wrk runs pinned to \
         core 1 with one thread. Scenarios: **keep-alive** (one request in flight per \
         connection) and **pipelined** (16 `GET /` requests written at once per \
         connection, `bench/wrk/pipeline.lua`; wrk counts every response). *CPU µs/req* \
         is the server's user+system CPU time over the measured run (from \
         `/proc/PID/stat`, all threads) divided by the requests wrk completed; *server \
         CPU* is that CPU time over wall time (100% = the whole core). Latencies are \
         wrk's percentiles; with pipelining they are per 16-request batch (– where \
         wrk printed none). A server CPU well below 100% means the server was not the \
         bottleneck (wrk, or other load on the machine).\n\n\
         Servers: **hyper** is hyper 1.x on a tokio current-thread runtime, \
         `http1::Builder` with keep-alive and `pipeline_flush(true)` (so hyper batches \
         pipelined responses into one write). **roadrunner-tokio** / **roadrunner-smol** \
         are `roadrunner-demo --runtime tokio|smol` with `ROADRUNNER_WORKERS=1`. All \
         answer `200 text/plain \"Hello, world!\"`.\n\n",
    );
    out.push_str(&table(rows));
    out
}

/// `value / base` formatted as `1.23×`.
fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 && value.is_finite() {
        format!("{:.2}×", value / base)
    } else {
        "–".into()
    }
}

/// A latency in µs formatted with a readable unit.
fn latency(us: Option<f64>) -> String {
    match us {
        None => "–".into(),
        Some(us) if us < 1000.0 => format!("{us:.0} µs"),
        Some(us) if us < 1e6 => format!("{:.2} ms", us / 1e3),
        Some(us) => format!("{:.2} s", us / 1e6),
    }
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

    fn row(scenario: &'static str, server: &'static str, rps: f64, cpu: f64) -> Row {
        Row {
            scenario,
            server,
            wrk: WrkResult {
                requests: 1,
                req_per_sec: rps,
                p50_us: Some(250.0),
                p99_us: Some(1500.0),
                socket_errors: 0,
                non_2xx: 0,
            },
            cpu_us_per_req: cpu,
            cpu_utilisation: 1.0,
        }
    }

    #[test]
    fn ratios_are_against_hyper_of_the_same_scenario() {
        let t = table(&[
            row("keep-alive", "hyper", 100.0, 10.0),
            row("keep-alive", "roadrunner-tokio", 150.0, 5.0),
            row("pipelined", "roadrunner-tokio", 10.0, 1.0),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[2].contains("| 1.00× | 1.00× |"), "{}", lines[2]);
        assert!(lines[3].contains("| 1.50× | 0.50× |"), "{}", lines[3]);
        assert!(lines[4].contains("| – | – |"), "{}", lines[4]);
        assert!(lines[3].contains("250 µs | 1.50 ms"), "{}", lines[3]);
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_735_689_599), "2024-12-31T23:59:59Z");
    }
}
