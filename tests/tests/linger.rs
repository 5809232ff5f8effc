//! A client still sending when the server answers early (413 to an upload over the
//! cap) must get that answer, not a connection reset that makes its TCP stack drop it
//! (RFC 9112 §9.6: close the write side first, then read and drop what still comes).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
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

both!(
    after_an_early_413_the_client_can_still_write_and_sees_a_clean_close,
    |adapter| {
        // A server that closed without lingering would have unread upload data in
        // its socket: the kernel answers the client's next bytes (or the close
        // itself) with a reset, and these writes or the last read fail.
        let mut o = opts(roadrunner_core::Routes::list([
            roadrunner_core::Route::post("/echo", echo),
        ]));
        o.max_content_length = 1000;
        let s = Server::start(adapter, o);
        let mut c = TcpStream::connect(("127.0.0.1", s.port())).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        c.set_write_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n";
        c.write_all(head.as_bytes()).expect("head");
        c.write_all(&[b'x'; 4096]).expect("first part of the body");
        // The answer, then the server's FIN.
        let mut got = Vec::new();
        c.read_to_end(&mut got)
            .expect("the 413 and a clean FIN, not a reset");
        assert!(
            got.starts_with(b"HTTP/1.1 413"),
            "got {:?}",
            String::from_utf8_lossy(&got)
        );
        // The server closed its write side only: what the client still sends is read
        // and dropped.
        let chunk = [b'y'; 64 * 1024];
        for i in 0..16 {
            c.write_all(&chunk)
                .unwrap_or_else(|e| panic!("write {i} after the server's FIN: {e}"));
        }
        c.shutdown(Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        let n = c
            .read_to_end(&mut rest)
            .expect("a clean close once the client is done, not a reset");
        assert_eq!(n, 0);
    }
);
