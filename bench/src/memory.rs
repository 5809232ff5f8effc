//! The `memory` scenario: resident memory per idle keep-alive connection.
//!
//! Reads the server's `VmRSS`, opens N connections that each complete one
//! request and then stay open and idle, waits, and reads `VmRSS` again.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::{probe, procstat};

/// Pause after start-up before the first reading.
const SETTLE: Duration = Duration::from_millis(500);
/// Measurement wait with the connections idle; longer than the 1 s
/// `--hibernate-after` so hibernating connections have given back their buffers.
const IDLE_WAIT: Duration = Duration::from_millis(2500);
/// Connections opened at once: well under the listen backlog (1024), and
/// each batch completes its requests before the next one connects.
const BATCH: usize = 500;

/// Server memory (KiB) before, right after opening the connections, and
/// after they have been idle for [`IDLE_WAIT`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    pub connections: usize,
    pub rss_before_kib: u64,
    pub rss_open_kib: u64,
    pub rss_after_kib: u64,
}

impl Memory {
    /// (after − before) / N: the headline number.
    pub fn kib_per_connection(&self) -> f64 {
        self.per_connection(self.rss_after_kib)
    }

    /// (at open − before) / N, before any connection could hibernate.
    pub fn kib_per_connection_at_open(&self) -> f64 {
        self.per_connection(self.rss_open_kib)
    }

    fn per_connection(&self, rss_kib: u64) -> f64 {
        (rss_kib as f64 - self.rss_before_kib as f64) / self.connections as f64
    }
}

/// Raises this process's soft `RLIMIT_NOFILE` to at least `need` (up to the
/// hard limit). Children spawned afterwards inherit it.
pub fn raise_fd_limit(need: u64) -> Result<(), String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    if lim.rlim_cur >= need {
        return Ok(());
    }
    if lim.rlim_max < need {
        return Err(format!(
            "the open-files hard limit is {}, need {need}; raise it (`ulimit -Hn`) \
             or use --quick",
            lim.rlim_max
        ));
    }
    lim.rlim_cur = need;
    // SAFETY: `lim` is a valid `rlimit` with rlim_cur <= rlim_max.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Measures server `pid` (listening on `port`) with `n` idle connections,
/// which are closed again before returning.
pub fn measure(pid: u32, port: u16, n: usize) -> Result<Memory, String> {
    std::thread::sleep(SETTLE);
    let rss_before_kib = procstat::vm_rss_kib(pid)?;
    let started = Instant::now();
    let mut open: Vec<TcpStream> = Vec::with_capacity(n);
    while open.len() < n {
        let batch_len = BATCH.min(n - open.len());
        let mut batch = Vec::with_capacity(batch_len);
        for _ in 0..batch_len {
            let mut stream = probe::connect(port)?;
            stream
                .write_all(probe::REQUEST)
                .map_err(|e| format!("write: {e}"))?;
            batch.push(stream);
        }
        for stream in &mut batch {
            probe::read_response(stream)
                .map_err(|e| format!("connection {}: {e}", open.len() + 1))?;
        }
        open.append(&mut batch);
    }
    let rss_open_kib = procstat::vm_rss_kib(pid)?;
    eprintln!(
        "  {n} connections open after {:.2} s; idle for {:.1} s",
        started.elapsed().as_secs_f64(),
        IDLE_WAIT.as_secs_f64()
    );
    std::thread::sleep(IDLE_WAIT);
    let rss_after_kib = procstat::vm_rss_kib(pid)?;
    drop(open);
    Ok(Memory {
        connections: n,
        rss_before_kib,
        rss_open_kib,
        rss_after_kib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_connection() {
        let m = Memory {
            connections: 1000,
            rss_before_kib: 4000,
            rss_open_kib: 14_000,
            rss_after_kib: 12_000,
        };
        assert_eq!(m.kib_per_connection(), 8.0);
        assert_eq!(m.kib_per_connection_at_open(), 10.0);
    }
}
