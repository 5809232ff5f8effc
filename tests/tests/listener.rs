//! Listener lifecycle: port, stop releasing the port, options refused before binding.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener, TcpStream};

use roadrunner_core::{Http1Options, Options, OptionsError, Protocol, Request, Routes, StartError};
use roadrunner_tests::{both, hyper_get, opts, unique_name, Server};

fn hello() -> Routes {
    Routes::handler(|_req: Request| async { "hello" })
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

fn on_port(port: u16) -> Options {
    let mut o = opts(hello());
    o.port = port;
    o
}

/// An option's name and a change making it invalid.
type Case = (&'static str, fn(&mut Options));

fn refused(port: u16) -> bool {
    match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
        Err(e) => e.kind() == ErrorKind::ConnectionRefused,
        Ok(_) => false,
    }
}

both!(port_zero_gets_a_real_port, |adapter| {
    let s = Server::start(adapter, opts(hello()));
    assert_ne!(s.port(), 0);
    assert_eq!(s.listener().port(), s.port());
    assert_eq!(s.listener().local_addr().ip(), Ipv4Addr::LOCALHOST);
    assert!(s.listener().name().starts_with("test-"));
    assert_eq!(hyper_get(s.port(), "/").text(), "hello");
    let info = s.info();
    assert_eq!(info.max_clients, 150);
    assert_eq!(info.max_concurrent_requests, None);
    assert_eq!(info.throttled, 0);
});

both!(stop_releases_the_port, |adapter| {
    let mut s = Server::start(adapter, opts(hello()));
    let port = s.port();
    assert_eq!(hyper_get(port, "/").status, 200);
    s.stop();
    // Right after stop() returned: nobody listens any more...
    assert!(refused(port), "connect to {port} not refused after stop()");
    // ... and a new listener can take the same port at once.
    let mut again = Server::start(adapter, on_port(port));
    assert_eq!(again.port(), port);
    assert_eq!(hyper_get(port, "/").text(), "hello");
    again.stop();
    let plain = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .unwrap_or_else(|e| panic!("port {port} not free after stop(): {e}"));
    drop(plain);
    assert!(refused(port));
});

both!(stop_from_a_tokio_runtime, |adapter| {
    let mut s = Server::start(adapter, opts(hello()));
    let port = s.port();
    let listener = s.take_listener();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(listener.stop());
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .unwrap_or_else(|e| panic!("port {port} not free after stop() on tokio: {e}"));
});

both!(invalid_options_are_refused_before_binding, |adapter| {
    // While another socket holds the port, an invalid option must still be reported
    // as an options error, not a bind error: validation comes first.
    let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let held = holder.local_addr().unwrap().port();
    let mut o = on_port(held);
    o.num_acceptors = 0;
    match Server::try_start(adapter, &unique_name("bad"), o) {
        Err(StartError::Options(OptionsError::Invalid { option, .. })) => {
            assert_eq!(option, "num_acceptors")
        }
        Err(e) => panic!("expected an options error, got {e:?}"),
        Ok(_) => panic!("num_acceptors = 0 accepted"),
    }
    drop(holder);
    // On a free port: refused, and the port stays free.
    let port = free_port();
    let mut o = on_port(port);
    o.num_acceptors = 0;
    assert!(matches!(
        Server::try_start(adapter, &unique_name("bad"), o),
        Err(StartError::Options(OptionsError::Invalid { .. }))
    ));
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .unwrap_or_else(|e| panic!("port {port} taken after a refused start: {e}"));
    // Other invalid values too.
    let cases: [Case; 4] = [
        ("max_clients", |o| o.max_clients = 0),
        ("max_keep_alive_requests", |o| o.max_keep_alive_requests = 0),
        ("protocols", |o| o.protocols.clear()),
        ("http1.max_header_count", |o| {
            o.protocols = vec![Protocol::Http1(Http1Options {
                max_header_count: 0,
                ..Default::default()
            })]
        }),
    ];
    for (name, change) in cases {
        let mut o = on_port(port);
        change(&mut o);
        match Server::try_start(adapter, &unique_name("bad"), o) {
            Err(StartError::Options(OptionsError::Invalid { option, .. })) => {
                assert_eq!(option, name)
            }
            Err(e) => panic!("{name}: {e:?}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("port still free");
});

both!(bad_route_pattern_is_an_options_error, |adapter| {
    let o = opts(Routes::list([roadrunner_core::Route::get(
        "no-slash",
        |_req: Request| async { "x" },
    )]));
    assert!(matches!(
        Server::try_start(adapter, &unique_name("bad-route"), o),
        Err(StartError::Options(OptionsError::Route(_)))
    ));
});

both!(port_in_use_is_a_bind_error, |adapter| {
    let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = holder.local_addr().unwrap().port();
    match Server::try_start(adapter, &unique_name("busy"), on_port(port)) {
        Err(StartError::Bind(e)) => assert_eq!(e.kind(), ErrorKind::AddrInUse),
        Err(e) => panic!("expected a bind error, got {e:?}"),
        Ok(_) => panic!("bound a port already listened on"),
    }
});

both!(listener_names_are_unique_while_running, |adapter| {
    let name = unique_name("named");
    let mut first = Server::start_named(adapter, &name, opts(hello()));
    assert_eq!(first.listener().name(), name);
    match Server::try_start(adapter, &name, opts(hello())) {
        Err(StartError::NameInUse(n)) => assert_eq!(n, name),
        Err(e) => panic!("expected NameInUse, got {e:?}"),
        Ok(_) => panic!("two running listeners named {name}"),
    }
    first.stop();
    // Free again once the first has stopped.
    let second = Server::start_named(adapter, &name, opts(hello()));
    assert_eq!(hyper_get(second.port(), "/").text(), "hello");
});
