//! `roadrunner-bench`: roadrunner against hyper baselines, against
//! tokio-tungstenite and fastwebsockets for WebSocket echo, and against h3 on
//! quinn for HTTP/3.
//!
//! Every server runs alone, pinned to one core; the load generator (wrk,
//! h2load for HTTP/2, or the harness's own `ws-load` for WebSocket and
//! `h3-load` for HTTP/3) runs pinned to another. Each scenario starts every
//! configuration of every selected server afresh and measures it: throughput
//! and server CPU time per request, or resident memory per idle connection.
//! See `bench/README.md`.

mod cli;
mod client_stats;
mod document;
mod floor_server;
mod h1_speed;
mod h2load;
mod h3_load;
mod h3_server;
mod h3_wire;
mod hyper_server;
mod inproc;
mod load;
mod memory;
mod pin;
mod probe;
mod procstat;
mod report;
mod server;
mod shell;
mod speed_table;
mod variant;
mod wrk;
mod ws_floor;
mod ws_load;
mod ws_proto;
mod ws_server;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use cli::{Mode, Options, Scenario, Server, USAGE};
use h2load::H2loadCommand;
use h3_load::H3LoadCommand;
use load::Client;
use report::{Results, Section};
use server::ServerProcess;
use variant::Variant;
use wrk::WrkCommand;
use ws_load::WsLoadCommand;

/// (connections, payload bytes) of the `ws` and `ws-16k` scenarios.
const WS_SMALL: (u32, usize) = (100, 20);
const WS_BIG: (u32, usize) = (20, 16 * 1024);

/// h2load requests per measured run of `h2` (`GET /`) and `h2-64k`.
const H2_REQUESTS: u64 = 1_500_000;
const H2_BIG_REQUESTS: u64 = 150_000;

/// The wrk script for the pipelined scenario (`bench/wrk/pipeline.lua`).
const PIPELINE_LUA: &str = include_str!("../wrk/pipeline.lua");

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match cli::parse_args(&args) {
        Ok(Mode::Help) => {
            print!("{USAGE}");
            0
        }
        Ok(Mode::HyperServer { port, protocol }) => report_error(hyper_server::run(port, protocol)),
        Ok(Mode::FloorServer { port }) => report_error(floor_server::run(port)),
        Ok(Mode::WsServer { port, imp }) => report_error(ws_server::run(port, imp)),
        Ok(Mode::WsLoad(args)) => report_error(ws_load::run(&args)),
        Ok(Mode::H3Server { port }) => report_error(h3_server::run(port)),
        Ok(Mode::H3Load(args)) => report_error(h3_load::run(&args)),
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

/// What every run needs besides the options.
struct Env<'a> {
    opts: &'a Options,
    self_exe: PathBuf,
    demo: Option<PathBuf>,
    /// `roadrunner-bench-inproc`, when `h1-speed` runs.
    inproc: Option<PathBuf>,
    script: &'a Path,
    ticks_per_sec: u64,
    pdeathsig: bool,
}

/// Runs every selected scenario and prints/writes the tables.
fn bench(opts: &Options) -> Result<(), String> {
    // Check every prerequisite before spending minutes on runs.
    pin::check_taskset()?;
    let uses = |f: fn(Scenario) -> bool| opts.scenarios.iter().any(|&s| f(s));
    let wrk_version = if uses(Scenario::uses_wrk) {
        Some(wrk::version()?)
    } else {
        None
    };
    let h2load_version = if uses(Scenario::is_h2) {
        Some(h2load::version()?)
    } else {
        None
    };
    let self_exe =
        std::env::current_exe().map_err(|e| format!("cannot locate own executable: {e}"))?;
    let roadrunner = [Server::RoadrunnerTokio, Server::RoadrunnerSmol];
    let demo = if opts.servers.iter().any(|s| roadrunner.contains(s)) {
        Some(server::find_demo(opts.demo.as_deref(), &self_exe)?)
    } else {
        None
    };
    let inproc = if opts.scenarios.contains(&Scenario::H1Speed) {
        Some(inproc::find(&self_exe)?)
    } else {
        None
    };
    if opts.scenarios.contains(&Scenario::Memory) {
        // Before any server is spawned, so servers inherit it.
        memory::raise_fd_limit(opts.idle_connections as u64 + 1024)?;
    }
    let script = TempFile::write("pipeline.lua", PIPELINE_LUA)?;
    let env = Env {
        opts,
        self_exe,
        demo,
        inproc,
        script: &script.path,
        ticks_per_sec: procstat::ticks_per_sec(),
        pdeathsig: pin::setpriv_has_pdeathsig(),
    };

    let mut sections = Vec::new();
    for &scenario in &opts.scenarios {
        if scenario == Scenario::H1Speed {
            sections.extend(h1_speed::run(&env)?);
            continue;
        }
        let variants: Vec<Variant> = variant::variants(scenario)
            .into_iter()
            .filter(|v| opts.servers.contains(&v.server))
            .collect();
        if !variants.is_empty() {
            sections.push(run_scenario(&env, scenario, &variants)?);
        }
    }
    for s in &sections {
        println!("## {}\n\n{}", s.scenario.name(), s.render());
    }

    if let Some(path) = &opts.markdown {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let meta = document::Meta {
            command: shell::join(std::env::args()),
            date: document::rfc3339_utc(now),
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model(),
            wrk_version,
            h2load_version,
            ws: uses(Scenario::is_ws),
            h3: uses(Scenario::is_h3),
            duration_secs: opts.duration_secs,
            warmup_secs: opts.warmup_secs,
        };
        std::fs::write(path, document::document(&sections, &meta))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Starts each variant in turn (killing it before the next) and measures it.
fn run_scenario(env: &Env, scenario: Scenario, variants: &[Variant]) -> Result<Section, String> {
    let opts = env.opts;
    let client = if scenario == Scenario::Memory {
        format!(
            "client: the harness, {} connections of `GET / HTTP/1.1` then idle",
            opts.idle_connections
        )
    } else {
        let url = url(scenario, "PORT");
        let shown = load_client(env, scenario, Path::new("bench/wrk/pipeline.lua"), &url);
        let (warmup, amount) = amounts(opts, scenario);
        let mut line = format!("client: `{}`", shown.display(amount));
        if scenario.is_h2() && warmup > 0 {
            line += &format!(", after a warm-up run of {warmup} requests");
        }
        if (scenario.is_ws() || scenario.is_h3()) && warmup > 0 {
            line += &format!(", after a warm-up run of {warmup} s (fresh connections)");
        }
        line
    };
    let mut commands = vec![client];
    let (mut loads, mut memories) = (Vec::new(), Vec::new());
    for &v in variants {
        commands.push(format!("{}: `{}`", v.label, v.display(opts.server_cpu)));
        let cmd = v.command(
            pin::pinned_command(opts.server_cpu, env.pdeathsig),
            &env.self_exe,
            env.demo.as_deref(),
        );
        let proc = ServerProcess::start(v.label, cmd)?;
        let url = url(scenario, &proc.port.to_string());
        if scenario.is_h2() {
            h2load::smoke_check(&url, body_len(scenario))
        } else if scenario.is_h3() {
            h3_load::smoke_check(proc.port, target_path(scenario), body_len(scenario))
        } else if scenario.is_ws() {
            ws_load::smoke_check(proc.port, target_path(scenario), ws_shape(scenario).1)
        } else {
            probe::smoke_check(proc.port)
        }
        .map_err(|e| format!("{}: sanity request failed: {e}", v.label))?;
        let tag = format!("[{} / {}]", v.label, scenario.name());
        if scenario == Scenario::Memory {
            eprintln!("{tag} opening {} idle connections", opts.idle_connections);
            let m = memory::measure(proc.pid, proc.port, opts.idle_connections)?;
            proc.check_alive()?;
            eprintln!(
                "{tag} {:.2} KiB per idle connection",
                m.kib_per_connection()
            );
            memories.push((v.label, m));
        } else {
            let (warmup, amount) = amounts(opts, scenario);
            let load = load::measure(
                &proc,
                &load_client(env, scenario, env.script, &url),
                warmup,
                amount,
                env.ticks_per_sec,
                &tag,
            )?;
            loads.push((v.label, load));
        }
        // `proc` is dropped here: the server is killed before the next starts.
    }
    let results = if scenario == Scenario::Memory {
        Results::Memory(memories)
    } else {
        Results::Load(loads)
    };
    Ok(Section {
        scenario,
        commands,
        results,
    })
}

/// The load generator for `scenario` (`script` is used only when pipelining).
fn load_client<'a>(env: &'a Env, scenario: Scenario, script: &'a Path, url: &'a str) -> Client<'a> {
    if scenario.is_ws() {
        let (connections, size) = ws_shape(scenario);
        Client::WsLoad(WsLoadCommand {
            cpu: env.opts.client_cpu,
            pdeathsig: env.pdeathsig,
            self_exe: &env.self_exe,
            connections,
            size,
            url,
        })
    } else if scenario.is_h2() {
        Client::H2load(H2loadCommand {
            cpu: env.opts.client_cpu,
            pdeathsig: env.pdeathsig,
            url,
            body_len: body_len(scenario),
        })
    } else if scenario.is_h3() {
        Client::H3Load(H3LoadCommand {
            cpu: env.opts.client_cpu,
            pdeathsig: env.pdeathsig,
            self_exe: &env.self_exe,
            url,
            body_len: body_len(scenario),
        })
    } else {
        Client::Wrk(WrkCommand {
            cpu: env.opts.client_cpu,
            pdeathsig: env.pdeathsig,
            connections: env.opts.connections,
            script: (scenario == Scenario::Pipelined).then_some(script),
            close: scenario == Scenario::Short,
            url,
        })
    }
}

/// The URL the client of `scenario` loads, on `port` (`PORT` where shown).
fn url(scenario: Scenario, port: &str) -> String {
    let scheme = if scenario.is_ws() {
        "ws"
    } else if scenario.is_h3() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://127.0.0.1:{port}{}", target_path(scenario))
}

/// The path every request of `scenario` asks for; the WebSocket baselines
/// answer on any path, the demo on `/ws`.
fn target_path(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::H2Big | Scenario::H3Big => "/big?bytes=65536",
        Scenario::Ws | Scenario::Ws16k => "/ws",
        _ => "/",
    }
}

/// (connections, payload bytes) of a ws scenario.
fn ws_shape(scenario: Scenario) -> (u32, usize) {
    if scenario == Scenario::Ws16k {
        WS_BIG
    } else {
        WS_SMALL
    }
}

/// The body length of every response in an h2 or h3 scenario, which the
/// client's received data is checked against.
fn body_len(scenario: Scenario) -> u64 {
    match scenario {
        Scenario::H2Big | Scenario::H3Big => 65_536,
        _ => hyper_server::BODY.len() as u64,
    }
}

/// The (warm-up, measured) amounts of a load run: seconds for wrk; requests
/// for h2load, sized for runs of about 5-10 s on the project's 2-core
/// machine, with a tenth of that as warm-up (none with `--warmup 0`).
fn amounts(opts: &Options, scenario: Scenario) -> (u64, u64) {
    let requests = match scenario {
        Scenario::H2 => H2_REQUESTS,
        Scenario::H2Big => H2_BIG_REQUESTS,
        _ => return (opts.warmup_secs, opts.duration_secs),
    } / if opts.quick { 5 } else { 1 };
    let warmup = if opts.warmup_secs > 0 {
        requests / 10
    } else {
        0
    };
    (warmup, requests)
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
