//! JSON bodies (feature `json`, enabled here through the adapters' own): a typed
//! request body read with `Json::from_request`, a typed `Json` response, and the
//! statuses of the refusals, through a real server.

use roadrunner_core::http::StatusCode;
use roadrunner_core::{Json, JsonRejection, Request, Route, Routes};
use roadrunner_tests::{both, opts, Hyper, Server};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct NewItem {
    name: String,
    count: u32,
}

#[derive(Serialize)]
struct Item {
    id: u64,
    name: String,
    count: u32,
}

async fn create(mut req: Request) -> Result<(StatusCode, Json<Item>), JsonRejection> {
    let Json(new): Json<NewItem> = Json::from_request(&mut req).await?;
    let item = Item {
        id: 7,
        name: new.name,
        count: new.count * 2,
    };
    Ok((StatusCode::CREATED, Json(item)))
}

both!(a_typed_json_body_in_and_out, |adapter| {
    let s = Server::start(adapter, opts(Routes::list([Route::post("/items", create)])));
    let mut c = Hyper::connect(s.port());
    let json = "application/json";

    let r = c.post("/items", json, r#"{"name":"pen","count":2}"#);
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("content-type"), Some(json));
    assert_eq!(r.text(), r#"{"id":7,"name":"pen","count":4}"#);

    let r = c.post("/items", "text/plain", r#"{"name":"pen","count":2}"#);
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = c.post("/items", json, r#"{"name":"pen","#);
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.post("/items", json, r#"{"name":"pen","count":-1}"#);
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("expected u32"), "{}", r.text());
});
