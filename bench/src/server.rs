//! Server child processes: locating, starting, readiness, cleanup.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to print its `listening on` line.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Finds the `roadrunner-demo` binary: `--demo`, else next to this binary
/// (same cargo profile directory), else `$CARGO_TARGET_DIR/release`.
pub fn find_demo(explicit: Option<&Path>, self_exe: &Path) -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => {
            let mut c = Vec::new();
            if let Some(dir) = self_exe.parent() {
                c.push(dir.join("roadrunner-demo"));
            }
            if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
                c.push(PathBuf::from(dir).join("release").join("roadrunner-demo"));
            }
            c
        }
    };
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "roadrunner-demo binary not found (looked at: {}).\n\
         Build it with `cargo build --release -p roadrunner-demo`, pass --demo PATH, \
         or bench only the baseline with `--servers hyper`.",
        tried.join(", ")
    ))
}

/// A server child process. Dropping it kills the process, so servers are
/// cleaned up on success, on error and on panic. On Ctrl-C the terminal
/// signals the whole foreground process group, servers included; if the
/// harness is killed on its own, `setpriv --pdeathsig` (when available)
/// takes the server down with it.
pub struct ServerProcess {
    name: &'static str,
    child: Child,
    /// PID of the server itself: `taskset` execs the command in place.
    pub pid: u32,
    /// The port it listens on.
    pub port: u16,
}

impl ServerProcess {
    /// Spawns `cmd` and waits for its first stdout line,
    /// `listening on http://127.0.0.1:PORT` (or `https://`).
    pub fn start(name: &'static str, mut cmd: Command) -> Result<Self, String> {
        eprintln!("[{name}] starting {cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{name}: cannot spawn {cmd:?}: {e}"))?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout is piped");
        // Guard first, so the child is killed if it never becomes ready.
        let mut proc = ServerProcess {
            name,
            child,
            pid,
            port: 0,
        };

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(first);
            // Keep draining so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(format!("{name}: cannot read stdout: {e}")),
            Err(_) => {
                return Err(format!(
                    "{name}: no `listening on` line within {} s",
                    READY_TIMEOUT.as_secs()
                ))
            }
        };
        if line.is_empty() {
            let status = proc.child.wait().map(|s| s.to_string()).unwrap_or_default();
            return Err(format!("{name}: exited before listening ({status})"));
        }
        proc.port = parse_listening_line(&line)
            .ok_or_else(|| format!("{name}: unexpected first stdout line {line:?}"))?;
        eprintln!("[{name}] pid {pid}, port {}", proc.port);
        Ok(proc)
    }

    /// Fails if the server has exited.
    pub fn check_alive(&self) -> Result<(), String> {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            // A zombie ('Z') has exited but is not reaped yet.
            Ok(stat)
                if !stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                Ok(())
            }
            _ => Err(format!("{}: server process {} died", self.name, self.pid)),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Extracts the port from `listening on http://127.0.0.1:PORT` (or `https://`).
fn parse_listening_line(line: &str) -> Option<u16> {
    let url = line.trim().strip_prefix("listening on ")?;
    let addr = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    addr.trim_end_matches('/').rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line() {
        assert_eq!(
            parse_listening_line("listening on http://127.0.0.1:4321\n"),
            Some(4321)
        );
        assert_eq!(
            parse_listening_line("listening on https://127.0.0.1:4321\n"),
            Some(4321)
        );
        assert_eq!(parse_listening_line("hello"), None);
    }

    #[test]
    fn missing_demo_is_a_clear_error() {
        let e = find_demo(
            Some(Path::new("/nonexistent/roadrunner-demo")),
            Path::new("/x"),
        )
        .unwrap_err();
        assert!(e.contains("roadrunner-demo binary not found"), "{e}");
    }
}
