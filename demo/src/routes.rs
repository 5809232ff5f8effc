//! The demo's routes.

use roadrunner_core::http::{header, HeaderValue, StatusCode};
use roadrunner_core::{text, Info, ListenerRef, Request, RequestExt, Response, Route, Routes};

pub fn routes() -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "Hello, world!" }),
        Route::post("/echo", echo),
        Route::get("/hello/:name", |req: Request| async move {
            format!("Hello, {}!", req.param("name").unwrap_or_default())
        }),
        Route::get("/info", info),
    ])
}

async fn echo(req: Request) -> Response {
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let mut resp = Response::new(req.into_body());
    if let Some(ct) = content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}

async fn info(req: Request) -> Response {
    let Some(listener) = req.listener_name().and_then(ListenerRef::lookup) else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "listener is stopping");
    };
    let mut resp = Response::new(info_json(&listener.info()).into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn info_json(i: &Info) -> String {
    let mcr = i
        .max_concurrent_requests
        .map_or("\"infinity\"".to_owned(), |n| n.to_string());
    format!(
        "{{\"active_clients\":{},\"max_clients\":{},\"requests_served\":{},\"rejected\":{},\"max_concurrent_requests\":{},\"throttled\":{}}}",
        i.active_clients, i.max_clients, i.requests_served, i.rejected, mcr, i.throttled
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_json_has_the_spec_s_field_names() {
        let json = info_json(&Info {
            active_clients: 1,
            max_clients: 150,
            requests_served: 7,
            rejected: 2,
            max_concurrent_requests: None,
            throttled: 0,
        });
        assert_eq!(
            json,
            "{\"active_clients\":1,\"max_clients\":150,\"requests_served\":7,\"rejected\":2,\"max_concurrent_requests\":\"infinity\",\"throttled\":0}"
        );
    }
}
