//! What the harness's own load clients measure of themselves: latencies and
//! their own CPU time.

use std::time::Duration;

/// This process's user + system CPU time, in seconds.
pub fn own_cpu_secs() -> Result<f64, String> {
    // SAFETY: all-zero is a valid `rusage`, which `getrusage` fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(format!("getrusage: {}", std::io::Error::last_os_error()));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(secs(usage.ru_utime) + secs(usage.ru_stime))
}

/// Round-trip times, to within 1/64 (about 1.6%): nanoseconds below 64 exactly,
/// then 64 buckets per power of two.
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; 64 * 59],
            total: 0,
        }
    }
}

impl Histogram {
    fn bucket(ns: u64) -> usize {
        if ns < 64 {
            return ns as usize;
        }
        let exp = 63 - ns.leading_zeros() as usize;
        64 * (exp - 5) + ((ns >> (exp - 6)) as usize - 64)
    }

    /// The smallest value that falls in bucket `i`.
    fn floor(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let exp = i / 64 + 5;
        ((i % 64) as u64 + 64) << (exp - 6)
    }

    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(ns)] += 1;
        self.total += 1;
    }

    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        let rank = ((self.total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::floor(i) as f64 / 1e3);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets() {
        for ns in [0, 63, 64, 127, 128, 1000, 123_456, 10_000_000_000] {
            let i = Histogram::bucket(ns);
            assert!(
                Histogram::floor(i) <= ns && ns - Histogram::floor(i) <= ns / 64,
                "{ns}"
            );
            assert!(Histogram::floor(i + 1) > ns, "{ns}");
        }
        let mut h = Histogram::default();
        for us in 1..=100 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile_us(0.5).unwrap();
        assert!((49.0..=50.0).contains(&p50), "{p50}");
        assert!((98.0..=99.0).contains(&h.quantile_us(0.99).unwrap()));
        assert_eq!(Histogram::default().quantile_us(0.5), None);
    }
}

/// What one run of the harness's own load client (ws-load, h3-load) reports, as one
/// line on stdout: `UNIT=N errors=N [body_bytes=N] secs=S cpu_secs=S p50_us=X
/// p99_us=X`, where UNIT names what is counted (`messages`, `requests`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientReport {
    /// Completed requests (echoed messages).
    pub count: u64,
    pub errors: u64,
    /// Response body bytes of the completed requests, where the client counts them.
    pub body_bytes: Option<u64>,
    /// From the first request to the last response.
    pub secs: f64,
    /// The client's own user + system CPU time over the same span.
    pub cpu_secs: f64,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
}

impl ClientReport {
    /// The report line, counting in `unit`.
    pub fn line(&self, unit: &str) -> String {
        let us = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        let body = self
            .body_bytes
            .map_or(String::new(), |b| format!(" body_bytes={b}"));
        format!(
            "{unit}={} errors={}{body} secs={:.4} cpu_secs={:.4} p50_us={} p99_us={}",
            self.count,
            self.errors,
            self.secs,
            self.cpu_secs,
            us(self.p50_us),
            us(self.p99_us)
        )
    }

    /// The report in what a client printed, counting in `unit`.
    pub fn parse(out: &str, unit: &str) -> Option<ClientReport> {
        let line = out
            .lines()
            .find(|l| l.strip_prefix(unit).is_some_and(|r| r.starts_with('=')))?;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        };
        let us = |name: &str| field(name).and_then(|v| v.parse().ok());
        Some(ClientReport {
            count: field(unit)?.parse().ok()?,
            errors: field("errors")?.parse().ok()?,
            body_bytes: field("body_bytes").and_then(|v| v.parse().ok()),
            secs: field("secs")?.parse().ok()?,
            cpu_secs: field("cpu_secs")?.parse().ok()?,
            p50_us: us("p50_us"),
            p99_us: us("p99_us"),
        })
    }
}
