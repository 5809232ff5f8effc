//! JSON bodies (cargo feature `json`): [`Json`] answers with one, and reads one from a
//! request.

use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::handler::{status_response, text, IntoResponse};
use crate::incoming::BodyError;
use crate::request::{Request, Response};

/// A JSON body. Returned by a handler, it answers `200` with `T` serialized and
/// `content-type: application/json`; [`Json::from_request`] reads one from a request.
///
/// ```
/// use roadrunner_core::http::StatusCode;
/// use roadrunner_core::serde_json::{json, Value};
/// use roadrunner_core::{Json, JsonRejection, Request};
///
/// async fn create(mut req: Request) -> Result<(StatusCode, Json<Value>), JsonRejection> {
///     let Json(item): Json<Value> = Json::from_request(&mut req).await?;
///     Ok((StatusCode::CREATED, Json(json!({ "id": 7, "name": item["name"] }))))
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => {
                let mut resp = Response::new(bytes.into());
                resp.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                resp
            }
            Err(e) => {
                tracing::error!(
                    target: "roadrunner",
                    event = "response.error",
                    error = %e,
                    "a JSON response could not be serialized",
                );
                status_response(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl<T: DeserializeOwned> Json<T> {
    /// Reads the request's body to its end (it is left empty) and parses it as a `T`.
    /// The request must say its body is JSON (`content-type: application/json`, or a
    /// `+json` type). A refusal answers with the status that fits it (see
    /// [`JsonRejection::status`]), so a handler may return it with `?`.
    pub async fn from_request(req: &mut Request) -> Result<Self, JsonRejection> {
        if !is_json(req.headers()) {
            return Err(JsonRejection::ContentType);
        }
        let body = std::mem::take(req.body_mut())
            .to_bytes()
            .await
            .map_err(JsonRejection::Body)?;
        serde_json::from_slice(&body).map(Json).map_err(|e| {
            if e.is_data() {
                JsonRejection::Data(e)
            } else {
                JsonRejection::Syntax(e)
            }
        })
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5
                && subtype.as_bytes()[subtype.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// Why [`Json::from_request`] refused a request. As a response it is its
/// [`status`](Self::status) with the reason as plain text.
#[derive(Debug)]
#[non_exhaustive]
pub enum JsonRejection {
    /// The request's `content-type` is not JSON.
    ContentType,
    /// The body could not be read to its end.
    Body(BodyError),
    /// The body is not JSON.
    Syntax(serde_json::Error),
    /// The body is JSON, but not of the expected shape.
    Data(serde_json::Error),
}

impl JsonRejection {
    /// `415` for the content type, `422` for JSON of the wrong shape, the body's own
    /// status for a body over a cap (`413`), `400` otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            JsonRejection::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::Body(BodyError::Protocol { status, .. }) => *status,
            JsonRejection::Body(_) | JsonRejection::Syntax(_) => StatusCode::BAD_REQUEST,
            JsonRejection::Data(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl std::fmt::Display for JsonRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonRejection::ContentType => f.write_str("expected content-type: application/json"),
            JsonRejection::Body(e) => write!(f, "cannot read the body: {e}"),
            JsonRejection::Syntax(e) => write!(f, "the body is not JSON: {e}"),
            JsonRejection::Data(e) => write!(f, "unexpected JSON: {e}"),
        }
    }
}

impl std::error::Error for JsonRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsonRejection::ContentType => None,
            JsonRejection::Body(e) => Some(e),
            JsonRejection::Syntax(e) | JsonRejection::Data(e) => Some(e),
        }
    }
}

impl IntoResponse for JsonRejection {
    fn into_response(self) -> Response {
        text(self.status(), self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use std::collections::BTreeMap;

    type Map = BTreeMap<String, u32>;

    fn request(content_type: Option<&'static str>, body: &'static str) -> Request {
        let mut req = Request::new(body.into());
        if let Some(ct) = content_type {
            req.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        req
    }

    fn read(content_type: Option<&'static str>, body: &'static str) -> Result<Map, StatusCode> {
        let mut req = request(content_type, body);
        block_on(Json::<Map>::from_request(&mut req))
            .map(|Json(m)| m)
            .map_err(|e| e.into_response().status())
    }

    #[test]
    fn a_json_body_is_read_by_its_type() {
        let want = Map::from([("a".to_owned(), 1)]);
        assert_eq!(
            read(Some("application/json"), r#"{"a":1}"#),
            Ok(want.clone())
        );
        let charset = Some("Application/JSON; charset=utf-8");
        assert_eq!(read(charset, r#"{"a":1}"#), Ok(want.clone()));
        let problem = Some("application/problem+json");
        assert_eq!(read(problem, r#"{"a":1}"#), Ok(want));
    }

    #[test]
    fn refusals_answer_with_the_status_that_fits() {
        let json = Some("application/json");
        assert_eq!(read(None, "{}"), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(
            read(Some("text/plain"), "{}"),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(
            read(Some("application/notjson"), "{}"),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(read(json, "{\"a\":"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(read(json, "not json"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(
            read(json, r#"{"a":"x"}"#),
            Err(StatusCode::UNPROCESSABLE_ENTITY)
        );
    }

    #[test]
    fn a_response_is_typed_json() {
        let resp = Json(Map::from([("n".to_owned(), 2)])).into_response();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(resp.body().as_bytes(), r#"{"n":2}"#);
    }
}
