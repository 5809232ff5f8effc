//! Server CPU time from `/proc/PID/stat`, resident memory from `/proc/PID/status`.
//!
//! `utime` and `stime` (fields 14 and 15) of a process's `/proc/PID/stat`
//! cover all of its threads, including threads that have already exited, so
//! one read before and one after a run gives the server's whole CPU cost.

use std::process::Command;

/// Clock ticks per second used by `/proc` (`getconf CLK_TCK`), or 100 (the
/// value on every mainstream Linux configuration) if `getconf` is unavailable.
pub fn ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// User plus system CPU time of process `pid` (all threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| format!("cannot parse {path}: {stat:?}"))
}

/// Extracts utime + stime from the text of a `/proc/PID/stat` file.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // Field 2 (comm) is parenthesised and may contain spaces or ')', so
    // split after the *last* ')'; the rest starts at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size of process `pid` (`VmRSS` in `/proc/PID/status`), in KiB.
pub fn vm_rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse_vm_rss(&status).ok_or_else(|| format!("no VmRSS line in {path}"))
}

/// Extracts the `VmRSS:   1234 kB` value.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_plus_stime() {
        let stat = "1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 3 0 999 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn reads_own_process() {
        assert!(cpu_ticks(std::process::id()).is_ok());
        assert!(vm_rss_kib(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn parses_vm_rss() {
        assert_eq!(
            parse_vm_rss("VmPeak:\t 9 kB\nVmRSS:\t    4321 kB\n"),
            Some(4321)
        );
    }
}
