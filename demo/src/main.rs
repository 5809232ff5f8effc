//! `roadrunner-demo`: a small server showing roadrunner on tokio or smol.
//!
//! ```text
//! roadrunner-demo [--port N] [--runtime tokio|smol]
//! ```
//! `--port 0` picks a free port. The first line on stdout, `listening on
//! http://127.0.0.1:PORT`, is printed once connections are accepted. The environment
//! variable `ROADRUNNER_WORKERS` sets the number of worker threads (default: one per
//! core).

mod args;
mod routes;

use roadrunner_core::{Listener, Options};

fn main() {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("roadrunner-demo: {msg}\n{}", args::USAGE);
            std::process::exit(2);
        }
    };
    let workers = std::env::var("ROADRUNNER_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut opts = Options::new(args.port, routes::routes());
    opts.ip = std::net::Ipv4Addr::LOCALHOST.into();
    match args.runtime {
        args::Runtime::Tokio => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .unwrap_or_else(|e| fail(&e));
            let listener = roadrunner_tokio::start_on(rt.handle().clone(), "demo", opts)
                .unwrap_or_else(|e| fail(&e));
            announce(&listener);
            rt.block_on(std::future::pending::<()>());
        }
        args::Runtime::Smol => {
            let ex = roadrunner_smol::spawn_executor(workers);
            let listener = roadrunner_smol::start_on(ex, "demo", opts).unwrap_or_else(|e| fail(&e));
            announce(&listener);
            loop {
                std::thread::park();
            }
        }
    }
}

fn announce(listener: &Listener) {
    println!("listening on http://127.0.0.1:{}", listener.port());
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("roadrunner-demo: {e}");
    std::process::exit(1);
}
