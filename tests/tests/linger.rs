//! A client still sending when the server answers early (413 to an upload over the
//! cap) must get that answer, not a connection reset that makes its TCP stack drop it
//! (RFC 9112 §9.6: close the write side first, then read and drop what still comes).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use roadrunner_tests::{both, echo, opts, Server};

both!(an_early_413_reaches_a_client_still_uploading, |adapter| {
    let mut o = opts(roadrunner_core::Routes::list([
        roadrunner_core::Route::post("/echo", echo),
    ]));
    o.max_content_length = 1000;
    let s = Server::start(adapter, o);
    for round in 0..5 {
        let mut c = TcpStream::connect(("127.0.0.1", s.port())).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut writer = c.try_clone().expect("clone");
        // 8 MB announced and sent while the server has already answered.
        let upload = std::thread::spawn(move || {
            let head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 8000000\r\n\r\n";
            let _ = writer.write_all(head.as_bytes());
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..122 {
                if writer.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert!(
                        got.starts_with(b"HTTP/1.1 413"),
                        "round {round}: {e} after {:?}",
                        String::from_utf8_lossy(&got)
                    );
                    break;
                }
            }
        }
        assert!(
            got.starts_with(b"HTTP/1.1 413"),
            "round {round}: got {:?}",
            String::from_utf8_lossy(&got)
        );
        drop(c);
        let _ = upload.join();
    }
});

both!(
    an_early_413_reaches_a_client_that_reads_only_after_uploading,
    |adapter| {
        let mut o = opts(roadrunner_core::Routes::list([
            roadrunner_core::Route::post("/echo", echo),
        ]));
        o.max_content_length = 1000;
        let s = Server::start(adapter, o);
        for round in 0..5 {
            let mut c = TcpStream::connect(("127.0.0.1", s.port())).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            c.set_write_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n";
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(&vec![b'x'; 2_000_000]);
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            assert!(
                got.starts_with(b"HTTP/1.1 413"),
                "round {round}: got {:?}",
                String::from_utf8_lossy(&got)
            );
        }
    }
);
