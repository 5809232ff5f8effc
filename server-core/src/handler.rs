//! Handlers: a request in, a response out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use crate::body::Body;
use crate::request::{Request, Response};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Answers requests. Implemented for every `async` function or closure
/// `Fn(Request) -> impl Future<Output = impl IntoResponse>`.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, req: Request) -> BoxFuture<Response>;
}

impl<F, Fut, R> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    fn call(&self, req: Request) -> BoxFuture<Response> {
        let fut = self(req);
        Box::pin(async move { fut.await.into_response() })
    }
}

/// A shared, type-erased handler.
pub type SharedHandler = Arc<dyn Handler>;

/// Values a handler (or a middleware) may return: a [`Response`], a [`StatusCode`],
/// text, bytes or a [`Body`], `()` (an empty `200`), a `Result` of two of them, and
/// tuples that set the status or header fields of another:
///
/// ```
/// use roadrunner_core::http::{header, HeaderMap, StatusCode};
/// use roadrunner_core::{IntoResponse, Request};
///
/// async fn created(_req: Request) -> impl IntoResponse {
///     (StatusCode::CREATED, [(header::LOCATION, "/items/7")], "made")
/// }
///
/// async fn echo_query(req: Request) -> Result<String, (StatusCode, &'static str)> {
///     match req.uri().query() {
///         Some(q) => Ok(q.to_owned()),
///         None => Err((StatusCode::BAD_REQUEST, "a query is needed")),
///     }
/// }
///
/// let resp = (StatusCode::CREATED, [(header::LOCATION, "/items/7")], "made").into_response();
/// assert_eq!(resp.status(), StatusCode::CREATED);
/// assert_eq!(resp.headers()[header::LOCATION], "/items/7");
/// assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
///
/// let failed: Result<String, _> = Err((StatusCode::BAD_REQUEST, "a query is needed"));
/// assert_eq!(failed.into_response().status(), StatusCode::BAD_REQUEST);
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-trace", "abc".parse().unwrap());
/// let resp = (headers, vec![1u8, 2, 3]).into_response();
/// assert_eq!(resp.status(), StatusCode::OK);
/// assert_eq!(resp.headers()["x-trace"], "abc");
/// ```
pub trait IntoResponse {
    /// Converts into a response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        Response::new(self.into())
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::new(self.into())
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        Response::new(self.into())
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(Body::empty())
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        status_response(self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        text(StatusCode::OK, self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        text(StatusCode::OK, self)
    }
}

impl<R: IntoResponse> IntoResponse for (StatusCode, R) {
    fn into_response(self) -> Response {
        let mut resp = self.1.into_response();
        *resp.status_mut() = self.0;
        resp
    }
}

impl<H: IntoHeaders, R: IntoResponse> IntoResponse for (H, R) {
    fn into_response(self) -> Response {
        with_headers(self.1.into_response(), self.0)
    }
}

impl<H: IntoHeaders, R: IntoResponse> IntoResponse for (StatusCode, H, R) {
    fn into_response(self) -> Response {
        let mut resp = self.2.into_response();
        *resp.status_mut() = self.0;
        with_headers(resp, self.1)
    }
}

/// Header fields returned beside a body, in `(headers, body)` or
/// `(status, headers, body)`: a [`HeaderMap`], or an array of name and value pairs
/// (`[(header::CONTENT_TYPE, "text/csv")]`). They replace fields of the same name the
/// body set.
pub trait IntoHeaders {
    /// Writes the fields into `headers`; a name or value that is not valid HTTP is an
    /// error.
    fn into_headers(self, headers: &mut HeaderMap) -> Result<(), http::Error>;
}

impl IntoHeaders for HeaderMap {
    fn into_headers(self, headers: &mut HeaderMap) -> Result<(), http::Error> {
        // A field of several values comes as its name with the first value, then the
        // other values without a name.
        let mut current: Option<HeaderName> = None;
        for (name, value) in self {
            if let Some(name) = name {
                headers.remove(&name);
                current = Some(name);
            }
            if let Some(name) = &current {
                headers.append(name.clone(), value);
            }
        }
        Ok(())
    }
}

impl<K, V, const N: usize> IntoHeaders for [(K, V); N]
where
    K: TryInto<HeaderName>,
    K::Error: Into<http::Error>,
    V: TryInto<HeaderValue>,
    V::Error: Into<http::Error>,
{
    fn into_headers(self, headers: &mut HeaderMap) -> Result<(), http::Error> {
        for (name, value) in self {
            let name = name.try_into().map_err(Into::into)?;
            let value = value.try_into().map_err(Into::into)?;
            headers.insert(name, value);
        }
        Ok(())
    }
}

/// `resp` with `fields` set; a field that is not valid HTTP turns it into a `500`, as a
/// handler bug.
fn with_headers(mut resp: Response, fields: impl IntoHeaders) -> Response {
    match fields.into_headers(resp.headers_mut()) {
        Ok(()) => resp,
        Err(e) => {
            tracing::error!(
                target: "roadrunner",
                event = "response.error",
                error = %e,
                "a handler returned an invalid header field",
            );
            status_response(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// A `text/plain; charset=utf-8` response.
pub fn text(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A response with `status` and its reason phrase as a plain-text body.
pub fn status_response(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("");
    text(status, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_fields_replace_the_body_s_and_keep_every_value() {
        let mut fields = HeaderMap::new();
        fields.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv"),
        );
        fields.append("x-tag", HeaderValue::from_static("a"));
        fields.append("x-tag", HeaderValue::from_static("b"));
        let resp = (fields, "a,b").into_response();
        assert_eq!(resp.headers()[http::header::CONTENT_TYPE], "text/csv");
        let tags: Vec<_> = resp.headers().get_all("x-tag").iter().collect();
        assert_eq!(tags, ["a", "b"]);
    }

    #[test]
    fn an_invalid_returned_field_is_a_500() {
        let resp = ([("bad name", "v")], "body").into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let resp = (StatusCode::OK, [("x-ok", "bad\nvalue")], "body").into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn unit_and_bytes_are_bodies_without_a_type() {
        let resp = ().into_response();
        assert_eq!(
            (resp.status(), resp.body().len()),
            (StatusCode::OK, Some(0))
        );
        let resp = Bytes::from_static(b"xy").into_response();
        assert_eq!(resp.body().as_bytes(), "xy");
        assert!(resp.headers().get(http::header::CONTENT_TYPE).is_none());
    }
}
