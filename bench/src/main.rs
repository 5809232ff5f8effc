//! `roadrunner-bench`: roadrunner against a hyper baseline under wrk.
//!
//! Every server runs alone, pinned to one core; wrk runs pinned to another.
//! For each server and scenario the harness runs a warm-up, then a measured
//! wrk run, and reads the server's CPU time around the measured run. See
//! `bench/README.md`.

mod cli;
mod hyper_server;
mod pin;
mod procstat;
mod report;
mod server;
mod wrk;

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cli::{Mode, Options, Scenario, Server, USAGE};
use report::Row;
use server::ServerProcess;
use wrk::WrkCommand;

/// The wrk script for the pipelined scenario (`bench/wrk/pipeline.lua`).
const PIPELINE_LUA: &str = include_str!("../wrk/pipeline.lua");

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match cli::parse_args(&args) {
        Ok(Mode::Help) => {
            print!("{USAGE}");
            0
        }
        Ok(Mode::HyperServer { port }) => report_error(hyper_server::run(port)),
        Ok(Mode::Bench(opts)) => report_error(bench(&opts)),
        Err(e) => {
            eprintln!("roadrunner-bench: {e}\n\n{USAGE}");
            2
        }
    };
    // Child-process guards have been dropped (servers killed) by now.
    std::process::exit(code);
}

fn report_error(result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("roadrunner-bench: error: {e}");
            1
        }
    }
}

/// Runs every selected (server, scenario) pair and prints/writes the table.
fn bench(opts: &Options) -> Result<(), String> {
    // Check every prerequisite before spending minutes on runs.
    let wrk_version = wrk::check_tools()?;
    let self_exe =
        std::env::current_exe().map_err(|e| format!("cannot locate own executable: {e}"))?;
    let demo = if opts.servers.iter().any(|&s| s != Server::Hyper) {
        Some(server::find_demo(opts.demo.as_deref(), &self_exe)?)
    } else {
        None
    };
    let script = TempFile::write("pipeline.lua", PIPELINE_LUA)?;
    let ticks_per_sec = procstat::ticks_per_sec();
    let pdeathsig = pin::setpriv_has_pdeathsig();

    let mut rows = Vec::new();
    for &server in &opts.servers {
        let mut cmd = pin::pinned_command(opts.server_cpu, pdeathsig);
        match server {
            Server::Hyper => {
                cmd.arg(&self_exe).args(["hyper-server", "--port", "0"]);
            }
            Server::RoadrunnerTokio | Server::RoadrunnerSmol => {
                let runtime = if server == Server::RoadrunnerTokio {
                    "tokio"
                } else {
                    "smol"
                };
                cmd.arg(demo.as_deref().expect("demo located above"))
                    .args(["--port", "0", "--runtime", runtime])
                    .env("ROADRUNNER_WORKERS", "1");
            }
        }
        let proc = ServerProcess::start(server.name(), cmd)?;
        server::smoke_check(proc.port)
            .map_err(|e| format!("{}: sanity request failed: {e}", server.name()))?;
        let url = format!("http://127.0.0.1:{}/", proc.port);

        for &scenario in &opts.scenarios {
            let wrk = |secs| WrkCommand {
                cpu: opts.client_cpu,
                pdeathsig,
                connections: opts.connections,
                duration_secs: secs,
                script: (scenario == Scenario::Pipelined).then_some(script.path.as_path()),
                url: &url,
            };
            let tag = format!("[{} / {}]", server.name(), scenario.name());
            if opts.warmup_secs > 0 {
                eprintln!("{tag} warm-up {} s", opts.warmup_secs);
                wrk(opts.warmup_secs).run()?;
                proc.check_alive()?;
            }
            eprintln!("{tag} measuring {} s", opts.duration_secs);
            let cpu_before = procstat::cpu_ticks(proc.pid)?;
            let started = Instant::now();
            let result = wrk(opts.duration_secs).run()?;
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
            let row = Row {
                scenario: scenario.name(),
                server: server.name(),
                cpu_us_per_req: cpu_secs * 1e6 / result.requests as f64,
                cpu_utilisation: cpu_secs / wall,
                wrk: result,
            };
            if row.cpu_utilisation < 0.9 {
                eprintln!(
                    "{tag} warning: server used only {:.0}% of its core; wrk or another \
                     process on the machine may be the bottleneck",
                    row.cpu_utilisation * 100.0
                );
            }
            eprintln!(
                "{tag} {:.0} req/s, {:.2} CPU µs/req, server CPU {:.0}%",
                row.wrk.req_per_sec,
                row.cpu_us_per_req,
                row.cpu_utilisation * 100.0
            );
            rows.push(row);
        }
        // `proc` is dropped here: the server is killed before the next starts.
    }

    // Group by scenario so each scenario's servers sit together.
    rows.sort_by_key(|r| Scenario::ALL.iter().position(|s| s.name() == r.scenario));
    let table = report::table(&rows);
    print!("{table}");

    if let Some(path) = &opts.markdown {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let meta = report::Meta {
            command: command_line(),
            date: report::rfc3339_utc(now),
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model(),
            wrk_version,
            duration_secs: opts.duration_secs,
            warmup_secs: opts.warmup_secs,
            connections: opts.connections,
        };
        std::fs::write(path, report::document(&rows, &meta))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The command line as typed, shell-quoted where needed.
fn command_line() -> String {
    std::env::args()
        .map(|a| {
            let safe = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c));
            if safe {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The CPU model name from `/proc/cpuinfo`.
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// A file in the temp dir, removed on drop.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn write(name: &str, contents: &str) -> Result<Self, String> {
        let path =
            std::env::temp_dir().join(format!("roadrunner-bench-{}-{name}", std::process::id()));
        std::fs::write(&path, contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(TempFile { path })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
