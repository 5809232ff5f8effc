//! `roadrunner-demo`: a small server showing roadrunner on tokio or smol.
//!
//! ```text
//! roadrunner-demo [--port N] [--runtime tokio|smol] [--tls [--cert FILE --key FILE]]
//!                 [--max-clients N] [--request-timeout MS] [--keep-alive-timeout MS]
//!                 [--min-bytes-per-second N] [--max-content-length N]
//!                 [--max-keep-alive-requests N] [--hibernate-after MS] [--no-graceful-drain]
//!                 [--drain-timeout MS]
//! ```
//! `--port 0` picks a free port. The first line on stdout, `listening on
//! http://127.0.0.1:PORT` (`https` with `--tls`), is printed once connections are
//! accepted. The environment variable `ROADRUNNER_WORKERS` sets the number of worker
//! threads (default: one per core).
//!
//! On SIGTERM or SIGINT the demo drains (stops accepting, waits up to `--drain-timeout`,
//! default 30000 ms, for the requests in flight), says on stderr which signal came and
//! how the drain ended, and exits with status 0.

mod args;
mod routes;

use std::time::Duration;

use roadrunner_core::{
    shutdown_signal, tls_config, DrainOutcome, Listener, Options, Protocol, ShutdownSignal,
};

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
    let opts = options(&args).unwrap_or_else(|e| fail(&e));
    let scheme = if args.tls { "https" } else { "http" };
    // Before the first line: once a client can know the server is up, a SIGTERM
    // must drain it rather than kill it.
    let signal = shutdown_signal().unwrap_or_else(|e| fail(&e));
    match args.runtime {
        args::Runtime::Tokio => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .unwrap_or_else(|e| fail(&e));
            let listener = roadrunner_tokio::start_on(rt.handle().clone(), "demo", opts)
                .unwrap_or_else(|e| fail(&e));
            announce(&listener, scheme);
            rt.block_on(drain_on(signal, listener, args.drain_timeout));
        }
        args::Runtime::Smol => {
            let ex = roadrunner_smol::spawn_executor(workers).unwrap_or_else(|e| fail(&e));
            let listener = roadrunner_smol::start_on(ex, "demo", opts).unwrap_or_else(|e| fail(&e));
            announce(&listener, scheme);
            smol::block_on(drain_on(signal, listener, args.drain_timeout));
        }
    }
}

fn options(args: &args::Args) -> Result<Options, String> {
    let mut opts = Options::new(args.port, routes::routes());
    opts.ip = std::net::Ipv4Addr::LOCALHOST.into();
    if args.tls {
        let config = match args.cert.as_deref().zip(args.key.as_deref()) {
            Some((cert, key)) => tls_config::from_pem_files(cert, key),
            None => tls_config::self_signed(&["localhost", "127.0.0.1"]).map(|dev| dev.config),
        };
        opts.tls = Some(config.map_err(|e| e.to_string())?);
    }
    if let Some(v) = args.max_clients {
        opts.max_clients = v;
    }
    if let Some(v) = args.request_timeout {
        opts.request_timeout = v;
    }
    if let Some(v) = args.keep_alive_timeout {
        opts.keep_alive_timeout = v;
    }
    if let Some(v) = args.min_bytes_per_second {
        opts.min_bytes_per_second = v;
    }
    if let Some(size) = args.ws_max_size {
        opts.ws = Some(roadrunner_core::WsOptions {
            max_frame_size: size,
            max_message_size: size,
        });
    }
    if let Some(v) = args.max_content_length {
        opts.max_content_length = v;
    }
    if let Some(v) = args.max_keep_alive_requests {
        opts.max_keep_alive_requests = v;
    }
    let default = if args.tls {
        vec![args::Proto::Http1, args::Proto::Http2]
    } else {
        vec![args::Proto::Http1]
    };
    opts.protocols = args
        .protocols
        .clone()
        .unwrap_or(default)
        .into_iter()
        .map(|p| match p {
            args::Proto::Http1 => Protocol::Http1(Default::default()),
            args::Proto::Http2 => Protocol::Http2(Default::default()),
            args::Proto::Http3 => Protocol::Http3(Default::default()),
        })
        .collect();
    opts.hibernate_after = args.hibernate_after;
    opts.graceful_drain = !args.no_graceful_drain;
    Ok(opts)
}

fn announce(listener: &Listener, scheme: &str) {
    println!("listening on {scheme}://127.0.0.1:{}", listener.port());
}

async fn drain_on(signal: ShutdownSignal, listener: Listener, timeout: Duration) {
    let signal = signal.await;
    eprintln!(
        "roadrunner-demo: {signal}: draining for up to {} ms (connections open: {})",
        timeout.as_millis(),
        listener.info().active_clients
    );
    match listener.drain(timeout).await {
        DrainOutcome::Drained => eprintln!("roadrunner-demo: drained, exiting"),
        DrainOutcome::TimedOut { remaining } => {
            eprintln!("roadrunner-demo: drain timed out, {remaining} connections ended, exiting")
        }
    }
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("roadrunner-demo: {e}");
    std::process::exit(1);
}
