//! curl against the server: an independent, widely used HTTP/1 client. curl must be
//! installed (CI installs it); a missing curl fails these tests.

use roadrunner_core::{Request, Route, Routes};
use roadrunner_tests::{both, curl, echo, opts, Adapter, Server};

fn server(adapter: Adapter) -> Server {
    Server::start(
        adapter,
        opts(Routes::list([
            Route::get("/hello", |_req: Request| async { "hello curl" }),
            Route::post("/echo", echo),
            Route::get("/version", |req: Request| async move {
                format!("{:?}", req.version())
            }),
        ])),
    )
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

both!(curl_get, |adapter| {
    let s = server(adapter);
    let out = curl(&["-w", "|%{http_code}", &s.url("/hello")], None);
    assert_eq!(stdout(&out), "hello curl|200");
    let out = curl(&["-w", "|%{http_code}", &s.url("/missing")], None);
    assert_eq!(stdout(&out), "Not Found|404");
});

both!(curl_post_with_body, |adapter| {
    let s = server(adapter);
    let out = curl(
        &[
            "-H",
            "Content-Type: text/x-curl",
            "--data-binary",
            "posted by curl",
            "-w",
            "|%{http_code}|%{content_type}",
            &s.url("/echo"),
        ],
        None,
    );
    assert_eq!(stdout(&out), "posted by curl|200|text/x-curl");
});

both!(curl_head, |adapter| {
    let s = server(adapter);
    let out = curl(&["-I", &s.url("/hello")], None);
    let text = stdout(&out);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    assert!(status.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(
        text.to_ascii_lowercase()
            .contains("\r\ncontent-length: 10\r\n"),
        "{text:?}"
    );
    assert!(
        text.ends_with("\r\n\r\n"),
        "body bytes after HEAD head: {text:?}"
    );
});

both!(curl_chunked_upload, |adapter| {
    let s = server(adapter);
    // 300 KB through stdin: curl streams it chunked (and, by default, asks for
    // `100-continue` first).
    let data: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let out = curl(
        &[
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            "@-",
            "-o",
            "-",
            &s.url("/echo"),
        ],
        Some(&data),
    );
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "echoed body differs");
});

both!(curl_http10, |adapter| {
    let s = server(adapter);
    let out = curl(&["--http1.0", "-i", &s.url("/version")], None);
    let text = stdout(&out);
    assert!(
        text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"),
        "{text:?}"
    );
    assert!(text.ends_with("\r\n\r\nHTTP/1.0"), "{text:?}");
});

both!(curl_keep_alive_reuses_the_connection, |adapter| {
    let s = server(adapter);
    let out = curl(
        &[
            "-w",
            "|%{http_code}|%{num_connects}\n",
            &s.url("/hello"),
            &s.url("/version"),
        ],
        None,
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    let fields: Vec<Vec<&str>> = lines.iter().map(|l| l.split('|').collect()).collect();
    assert_eq!(fields[0][..2], ["hello curl", "200"], "{text:?}");
    assert_eq!(fields[1][..2], ["HTTP/1.1", "200"], "{text:?}");
    let connects: u32 = fields.iter().map(|f| f[2].parse::<u32>().unwrap()).sum();
    assert_eq!(connects, 1, "curl opened {connects} connections: {text:?}");
});
