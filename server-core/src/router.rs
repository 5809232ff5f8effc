//! Routes as given by the user, and the compiled table a listener dispatches with.
//!
//! Patterns are made of `/`-separated segments: literals, `:name` (one segment) and a
//! final `*name` (the rest of the path, possibly empty). Routes are tried in order and
//! the first match wins; a path that matches only routes restricted to other methods
//! gets `405` with `Allow`, a path that matches nothing `404`.

use std::sync::Arc;

use http::{header, HeaderValue, Method, StatusCode};

use crate::handler::{status_response, BoxFuture, Handler, SharedHandler};
use crate::middleware::{Middleware, Middlewares, Next, SharedMiddleware};
use crate::request::{Params, Request, RequestContext, Response};
use crate::state::StateRef;

/// A handler with its optional state and its own middlewares.
#[derive(Clone)]
pub struct Endpoint {
    handler: SharedHandler,
    state: Option<StateRef>,
    middlewares: Middlewares,
}

impl Endpoint {
    /// An endpoint calling `handler`.
    pub fn new(handler: impl Handler) -> Self {
        Endpoint {
            handler: Arc::new(handler),
            state: None,
            middlewares: Middlewares::default(),
        }
    }

    /// Attaches state, reachable through [`RequestExt::state`](crate::RequestExt::state).
    pub fn state<T: std::any::Any + Send + Sync>(mut self, state: T) -> Self {
        self.state = Some(StateRef::new(state));
        self
    }

    /// Appends a middleware of this endpoint's own (run inside the listener's).
    pub fn middleware(mut self, mw: impl Middleware) -> Self {
        self.middlewares.push(mw);
        self
    }
}

/// One entry of a route list.
#[derive(Clone)]
pub struct Route {
    pattern: String,
    methods: Option<Vec<Method>>,
    endpoint: Endpoint,
}

impl Route {
    /// A route for `pattern` answering every method.
    pub fn new(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route {
            pattern: pattern.into(),
            methods: None,
            endpoint: Endpoint::new(handler),
        }
    }

    /// A `GET` route (which also answers `HEAD`).
    pub fn get(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route::new(pattern, handler).methods([Method::GET])
    }

    /// A `POST` route.
    pub fn post(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route::new(pattern, handler).methods([Method::POST])
    }

    /// A `PUT` route.
    pub fn put(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route::new(pattern, handler).methods([Method::PUT])
    }

    /// A `DELETE` route.
    pub fn delete(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route::new(pattern, handler).methods([Method::DELETE])
    }

    /// A `PATCH` route.
    pub fn patch(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route::new(pattern, handler).methods([Method::PATCH])
    }

    /// A `HEAD` route (a `GET` route answers `HEAD` too; this one answers it alone).
    pub fn head(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route::new(pattern, handler).methods([Method::HEAD])
    }

    /// An `OPTIONS` route.
    pub fn options(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route::new(pattern, handler).methods([Method::OPTIONS])
    }

    /// A route answering every method (the same as [`Route::new`]).
    pub fn any(pattern: impl Into<String>, handler: impl Handler) -> Self {
        Route::new(pattern, handler)
    }

    /// Restricts the route to `methods`; other methods get `405`.
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = Some(methods.into_iter().collect());
        self
    }

    /// Attaches state to this route.
    pub fn state<T: std::any::Any + Send + Sync>(mut self, state: T) -> Self {
        self.endpoint = self.endpoint.state(state);
        self
    }

    /// Appends a route middleware (run inside the listener's middlewares).
    pub fn middleware(mut self, mw: impl Middleware) -> Self {
        self.endpoint = self.endpoint.middleware(mw);
        self
    }
}

/// The `routes` option: one of the spec's four forms.
#[derive(Clone)]
pub enum Routes {
    /// Every request goes to one endpoint: a handler, with or without state and
    /// middlewares of its own.
    Single(Endpoint),
    /// A route list; first match wins, no match answers `404`.
    List(Vec<Route>),
}

impl Routes {
    /// Single-handler mode.
    pub fn handler(handler: impl Handler) -> Self {
        Routes::Single(Endpoint::new(handler))
    }

    /// Single-handler mode with state.
    pub fn handler_with_state<T: std::any::Any + Send + Sync>(
        handler: impl Handler,
        state: T,
    ) -> Self {
        Routes::Single(Endpoint::new(handler).state(state))
    }

    /// A route list.
    pub fn list(routes: impl IntoIterator<Item = Route>) -> Self {
        Routes::List(routes.into_iter().collect())
    }
}

/// A route pattern that cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteError {
    /// The offending pattern.
    pub pattern: String,
    /// Why it was refused.
    pub reason: &'static str,
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad route pattern {:?}: {}", self.pattern, self.reason)
    }
}

impl std::error::Error for RouteError {}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param(Arc<str>),
    Rest(Arc<str>),
}

fn compile_pattern(pattern: &str) -> Result<Vec<Segment>, RouteError> {
    let err = |reason| RouteError {
        pattern: pattern.to_owned(),
        reason,
    };
    let rest = pattern
        .strip_prefix('/')
        .ok_or_else(|| err("must start with '/'"))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            if let Some(name) = part.strip_prefix(':') {
                if name.is_empty() {
                    return Err(err("a ':' segment needs a name"));
                }
                Ok(Segment::Param(name.into()))
            } else if let Some(name) = part.strip_prefix('*') {
                if name.is_empty() {
                    return Err(err("a '*' segment needs a name"));
                }
                if i != last {
                    return Err(err("'*' is allowed only in the last segment"));
                }
                Ok(Segment::Rest(name.into()))
            } else {
                Ok(Segment::Literal((*part).to_owned()))
            }
        })
        .collect()
}

fn match_path(segments: &[Segment], path: &str) -> Option<Params> {
    let mut params = Params::default();
    let mut rest = path.strip_prefix('/')?;
    for (i, seg) in segments.iter().enumerate() {
        if let Segment::Rest(name) = seg {
            params.push(name.clone(), percent_decode(rest));
            return Some(params);
        }
        let (part, tail) = match rest.split_once('/') {
            Some((p, t)) => (p, Some(t)),
            None => (rest, None),
        };
        match seg {
            Segment::Literal(lit) if lit == part => {}
            Segment::Param(name) => params.push(name.clone(), percent_decode(part)),
            _ => return None,
        }
        match tail {
            Some(t) => rest = t,
            None if i + 1 == segments.len() => return Some(params),
            // The path ran out: only a final `*rest` may still match (empty).
            None => {
                return match &segments[i + 1..] {
                    [Segment::Rest(name)] => {
                        params.push(name.clone(), String::new());
                        Some(params)
                    }
                    _ => None,
                }
            }
        }
    }
    None
}

/// Decodes `%XX` escapes (a `+` in a path is a plus).
fn percent_decode(s: &str) -> String {
    crate::query::decode(s, false).into_owned()
}

struct CompiledEndpoint {
    chain: Arc<[SharedMiddleware]>,
    handler: SharedHandler,
    state: Option<StateRef>,
}

impl CompiledEndpoint {
    fn new(ep: &Endpoint, listener_mws: &[SharedMiddleware]) -> Self {
        let chain: Vec<SharedMiddleware> = listener_mws
            .iter()
            .chain(ep.middlewares.as_slice())
            .cloned()
            .collect();
        CompiledEndpoint {
            chain: chain.into(),
            handler: ep.handler.clone(),
            state: ep.state.clone(),
        }
    }

    #[inline]
    fn run(&self, mut req: Request, params: Params) -> BoxFuture<Response> {
        if let Some(ctx) = req.extensions_mut().get_mut::<RequestContext>() {
            ctx.params = params;
            ctx.state = self.state.clone();
        }
        Next::new(self.chain.clone(), self.handler.clone()).run(req)
    }
}

struct CompiledRoute {
    segments: Vec<Segment>,
    methods: Option<Vec<Method>>,
    endpoint: CompiledEndpoint,
}

impl CompiledRoute {
    fn allows(&self, method: &Method) -> bool {
        match &self.methods {
            None => true,
            Some(ms) => ms
                .iter()
                .any(|m| m == method || (*method == Method::HEAD && *m == Method::GET)),
        }
    }
}

enum Table {
    Single(CompiledEndpoint),
    List(Vec<CompiledRoute>),
}

/// A compiled route table with the listener's middlewares baked in.
pub(crate) struct Dispatch {
    table: Table,
    listener_chain: Arc<[SharedMiddleware]>,
}

impl Dispatch {
    /// Compiles `routes` with the listener-wide `middlewares` outermost.
    pub(crate) fn compile(
        routes: &Routes,
        middlewares: &[SharedMiddleware],
    ) -> Result<Self, RouteError> {
        let table = match routes {
            Routes::Single(ep) => Table::Single(CompiledEndpoint::new(ep, middlewares)),
            Routes::List(list) => Table::List(
                list.iter()
                    .map(|r| {
                        Ok(CompiledRoute {
                            segments: compile_pattern(&r.pattern)?,
                            methods: r.methods.clone(),
                            endpoint: CompiledEndpoint::new(&r.endpoint, middlewares),
                        })
                    })
                    .collect::<Result<_, RouteError>>()?,
            ),
        };
        Ok(Dispatch {
            table,
            listener_chain: middlewares.to_vec().into(),
        })
    }

    /// True in single-handler mode, where there is no table to reload.
    pub(crate) fn is_single(&self) -> bool {
        matches!(self.table, Table::Single(_))
    }

    /// Resolves `req` and returns the future that answers it. The future owns what it
    /// needs, so a table swapped out meanwhile does not affect it.
    pub(crate) fn dispatch(&self, req: Request) -> BoxFuture<Response> {
        let routes = match &self.table {
            Table::Single(ep) => return ep.run(req, Params::default()),
            Table::List(routes) => routes,
        };
        let mut allowed: Vec<&Method> = Vec::new();
        for route in routes {
            if let Some(params) = match_path(&route.segments, req.uri().path()) {
                if route.allows(req.method()) {
                    return route.endpoint.run(req, params);
                }
                allowed.extend(route.methods.iter().flatten());
            }
        }
        let resp = if allowed.is_empty() {
            status_response(StatusCode::NOT_FOUND)
        } else {
            method_not_allowed(allowed)
        };
        let (parts, body) = resp.into_parts();
        let endpoint: SharedHandler = Arc::new(FixedResponse {
            status: parts.status,
            headers: parts.headers,
            body: body.into_bytes(),
        });
        Next::new(self.listener_chain.clone(), endpoint).run(req)
    }
}

fn method_not_allowed(mut allowed: Vec<&Method>) -> Response {
    if allowed.contains(&&Method::GET) && !allowed.contains(&&Method::HEAD) {
        allowed.push(&Method::HEAD);
    }
    let mut names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
    names.dedup();
    let mut resp = status_response(StatusCode::METHOD_NOT_ALLOWED);
    if let Ok(v) = HeaderValue::from_str(&names.join(", ")) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// Answers with a copy of a prepared response (404, 405).
struct FixedResponse {
    status: StatusCode,
    headers: http::HeaderMap,
    body: bytes::Bytes,
}

impl Handler for FixedResponse {
    fn call(&self, _req: Request) -> BoxFuture<Response> {
        let mut resp = Response::new(self.body.clone().into());
        *resp.status_mut() = self.status;
        *resp.headers_mut() = self.headers.clone();
        Box::pin(std::future::ready(resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
        let segs = compile_pattern(pattern).expect("valid pattern");
        match_path(&segs, path).map(|p| {
            p.iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect()
        })
    }

    fn b(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn literals_match_exactly() {
        assert_eq!(m("/", "/"), b(&[]));
        assert_eq!(m("/a/b", "/a/b"), b(&[]));
        assert_eq!(m("/a/b", "/a/b/"), None);
        assert_eq!(m("/a/b", "/a"), None);
        assert_eq!(m("/a", "/a/b"), None);
        assert_eq!(m("/", "/x"), None);
    }

    #[test]
    fn params_bind_one_segment() {
        assert_eq!(m("/hello/:name", "/hello/bob"), b(&[("name", "bob")]));
        assert_eq!(m("/hello/:name", "/hello/bob/x"), None);
        assert_eq!(m("/hello/:name", "/hello"), None);
        assert_eq!(
            m("/u/:id/p/:pid", "/u/1/p/2"),
            b(&[("id", "1"), ("pid", "2")])
        );
        assert_eq!(
            m("/hello/:name", "/hello/J%C3%B6rg"),
            b(&[("name", "Jörg")])
        );
    }

    #[test]
    fn rest_binds_the_tail() {
        assert_eq!(m("/s/*path", "/s/a/b/c"), b(&[("path", "a/b/c")]));
        assert_eq!(m("/s/*path", "/s/"), b(&[("path", "")]));
        assert_eq!(m("/s/*path", "/s"), b(&[("path", "")]));
        assert_eq!(m("/s/*path", "/t/a"), None);
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(compile_pattern("a").is_err());
        assert!(compile_pattern("/:").is_err());
        assert!(compile_pattern("/*").is_err());
        assert!(compile_pattern("/*a/b").is_err());
    }
}
