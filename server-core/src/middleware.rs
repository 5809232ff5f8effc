//! Middleware in continuation style: each gets the request and `next`, the rest of the
//! pipeline, and may answer by itself, change the request, or change the response.

use std::future::Future;
use std::sync::Arc;

use crate::handler::{BoxFuture, IntoResponse, SharedHandler};
use crate::request::{Request, Response};

/// One stage of a pipeline. Implemented for every
/// `Fn(Request, Next) -> impl Future<Output = impl IntoResponse>`, so a middleware may
/// answer the way a handler does:
///
/// ```
/// use roadrunner_core::http::StatusCode;
/// use roadrunner_core::{Next, Options, Request, Routes};
///
/// let mut opts = Options::new(0, Routes::handler(|_req: Request| async { "secret" }));
/// opts.middlewares.push(|req: Request, next: Next| async move {
///     if !req.headers().contains_key("authorization") {
///         return Err((StatusCode::UNAUTHORIZED, "who are you?"));
///     }
///     Ok(next.run(req).await)
/// });
/// ```
pub trait Middleware: Send + Sync + 'static {
    /// Handles `req`, usually by calling `next.run(req)` somewhere inside.
    fn call(&self, req: Request, next: Next) -> BoxFuture<Response>;
}

impl<F, Fut, R> Middleware for F
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    fn call(&self, req: Request, next: Next) -> BoxFuture<Response> {
        let fut = self(req, next);
        Box::pin(async move { fut.await.into_response() })
    }
}

/// A shared, type-erased middleware.
pub type SharedMiddleware = Arc<dyn Middleware>;

/// A list of middlewares; the first is the outermost.
#[derive(Clone, Default)]
pub struct Middlewares(Vec<SharedMiddleware>);

impl Middlewares {
    /// Appends `mw`, inside the middlewares already listed.
    pub fn push(&mut self, mw: impl Middleware) {
        self.0.push(Arc::new(mw));
    }

    pub(crate) fn as_slice(&self) -> &[SharedMiddleware] {
        &self.0
    }
}

/// The rest of a pipeline: the middlewares after the current one, then the handler.
#[derive(Clone)]
pub struct Next {
    chain: Arc<[SharedMiddleware]>,
    index: usize,
    endpoint: SharedHandler,
}

impl Next {
    pub(crate) fn new(chain: Arc<[SharedMiddleware]>, endpoint: SharedHandler) -> Self {
        Next {
            chain,
            index: 0,
            endpoint,
        }
    }

    /// Runs the rest of the pipeline on `req`.
    #[inline]
    pub fn run(mut self, req: Request) -> BoxFuture<Response> {
        match self.chain.get(self.index).cloned() {
            Some(mw) => {
                self.index += 1;
                mw.call(req, self)
            }
            None => self.endpoint.call(req),
        }
    }
}
