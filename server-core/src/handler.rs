//! Handlers: a request in, a response out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::StatusCode;

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

/// Values a handler may return.
pub trait IntoResponse {
    /// Converts into a response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
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

impl<B: Into<Body>> IntoResponse for (StatusCode, B) {
    fn into_response(self) -> Response {
        let mut resp = Response::new(self.1.into());
        *resp.status_mut() = self.0;
        resp
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
