//! The `roadrunner-demo` binary, built once and started per test.
//!
//! How the binary is found: `env!("CARGO_BIN_EXE_roadrunner-demo")` only exists for a
//! package's own binaries, and `cargo run` would leave us killing cargo rather than the
//! server (the demo could outlive the test). So the helpers run `$CARGO build -p
//! roadrunner-demo --message-format=json` once (cargo is `env!("CARGO")`, the one
//! running these tests; the workspace manifest is found from `CARGO_MANIFEST_DIR`) and
//! take the executable path from cargo's own `compiler-artifact` message. That is
//! robust to `CARGO_TARGET_DIR`, `--target-dir`, profiles and the platform's `.exe`,
//! where guessing `target/debug/roadrunner-demo` is not. `cargo test` no longer holds
//! the build lock while tests run, so the nested build does not deadlock (it may wait
//! for another build in the same target directory, which is fine).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::Adapter;

/// The demo executable, built on first use.
pub fn demo_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut cargo = Command::new(env!("CARGO"));
        // Cargo gives this test process the variables of the package under test
        // (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`...). Passed on, they would differ from
        // the environment of the outer `cargo test`, and build scripts that watch them
        // (ring's watches `CARGO_MANIFEST_DIR`) would be rerun by each build in turn.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("CARGO_PKG_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                ]
                .contains(&&*k)
            {
                cargo.env_remove(&key);
            }
        }
        let out = cargo
            .args(["build", "-p", "roadrunner-demo", "--message-format=json"])
            .arg("--manifest-path")
            .arg(&manifest)
            .stderr(Stdio::inherit())
            .output()
            .expect("running cargo build -p roadrunner-demo");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "cargo build -p roadrunner-demo failed:\n{stdout}"
        );
        stdout
            .lines()
            .filter(|l| l.contains("\"reason\":\"compiler-artifact\""))
            .filter_map(|l| json_string_field(l, "executable"))
            .find(|p| {
                Path::new(p)
                    .file_stem()
                    .is_some_and(|s| s == "roadrunner-demo")
            })
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no roadrunner-demo executable in cargo's output:\n{stdout}"))
    })
}

/// The string value of `"field":"..."` in one JSON line (enough for cargo's messages).
fn json_string_field(line: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = line.find(&key)? + key.len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

/// A running demo; killed and reaped when dropped, however the test ends.
pub struct Demo {
    child: Child,
    /// The port from its first line.
    pub port: u16,
    /// Its stderr lines; disconnected once the pipe closes, i.e. the demo has exited.
    stderr: mpsc::Receiver<String>,
}

impl Demo {
    /// The demo's process id, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line containing `needle` and returns it; lines before it
    /// are skipped (they are echoed to the test's stderr anyway).
    pub fn wait_stderr(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no stderr line with {needle:?} from the demo: {e}"),
            }
        }
    }

    /// Waits for the demo to exit on its own and returns its status. The end of its
    /// stderr is the event waited on: the pipe closes when the process does.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the demo did not exit within {within:?}")
                }
            }
        }
        self.child.wait().expect("reaping roadrunner-demo")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime(adapter: Adapter) -> &'static str {
    match adapter {
        Adapter::Tokio => "tokio",
        Adapter::Smol => "smol",
    }
}

/// Starts the demo with `--port 0 --runtime R` and `extra`; checks the first line
/// names `scheme` (`http` or `https`) and takes the port from it.
pub fn start_demo(adapter: Adapter, scheme: &str, extra: &[&str]) -> Demo {
    let mut child = Command::new(demo_binary())
        .args(["--port", "0", "--runtime", runtime(adapter)])
        .args(extra)
        .env("ROADRUNNER_WORKERS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning roadrunner-demo");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let (line_tx, stderr_lines) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the very end whatever it holds: the end is what `wait_exit` waits for.
        for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line).into_owned();
            eprintln!("{line}");
            let _ = line_tx.send(line);
        }
    });
    // The guard owns the child from here, so a failure below still kills it.
    let mut demo = Demo {
        child,
        port: 0,
        stderr: stderr_lines,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        // Keep draining so the demo never blocks on a full pipe.
        for _ in lines {}
    });
    let line = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(Ok(line))) => line,
        other => panic!("no first line from roadrunner-demo {extra:?}: {other:?}"),
    };
    let prefix = format!("listening on {scheme}://127.0.0.1:");
    let port = line
        .strip_prefix(&prefix)
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or_else(|| panic!("first line {line:?} does not start with {prefix:?}+port"));
    assert_ne!(port, 0);
    demo.port = port;
    demo
}

/// The raw text of `"name":value` in a flat JSON object.
pub fn json_value<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":");
    let start = json.find(&key)? + key.len();
    let rest = &json[start..];
    let end = rest.find([',', '}'])?;
    Some(rest[..end].trim())
}

/// The number in `"name":N` of a flat JSON object.
pub fn json_num(json: &str, name: &str) -> u64 {
    json_value(json, name)
        .unwrap_or_else(|| panic!("no field {name} in {json}"))
        .parse()
        .unwrap_or_else(|_| panic!("field {name} is not a number in {json}"))
}
