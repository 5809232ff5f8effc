//! What a handler learns about a request beyond its HTTP head.

use std::any::Any;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::handler::BoxFuture;

use crate::body::Body;
use crate::listener::ListenerRef;
use crate::query::QueryPairs;
use crate::state::{MissingState, StateMap, StateRef};

/// A request, the same type on every protocol.
pub type Request = http::Request<Body>;
/// A response, the same type on every protocol.
pub type Response = http::Response<Body>;

/// Per-request facts the server attaches to every request's extensions.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub(crate) listener: ListenerRef,
    pub(crate) peer: SocketAddr,
    pub(crate) id: u64,
    pub(crate) params: Params,
    pub(crate) state: Option<StateRef>,
}

/// Route bindings (`:name` and `*name` segments) of the matched route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(Arc<str>, String)>);

impl Params {
    pub(crate) fn push(&mut self, name: Arc<str>, value: String) {
        self.0.push((name, value));
    }

    /// The value bound to `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every binding, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (&**n, v.as_str()))
    }
}

/// Accessors for the [`RequestContext`] of a [`Request`].
pub trait RequestExt {
    /// The context, present on every request the server hands out.
    fn context(&self) -> Option<&RequestContext>;

    /// A route binding by name (`/hello/:name` → `param("name")`).
    fn param(&self, name: &str) -> Option<&str> {
        self.context()?.params.get(name)
    }

    /// All route bindings.
    fn params(&self) -> Option<&Params> {
        self.context().map(|c| &c.params)
    }

    /// The state of type `T`: the matched route's (or single handler's) own if it is
    /// a `T`, else the listener's ([`Options::state`](crate::Options::state)). A miss
    /// names the types that are set; returned from a handler with `?`, it answers
    /// `500`.
    fn state<T: Any + Send + Sync>(&self) -> Result<&T, MissingState> {
        let ctx = self.context();
        let route = ctx.and_then(|c| c.state.as_ref());
        let listener = ctx.map(|c| c.listener.state());
        route
            .and_then(StateRef::get)
            .or_else(|| listener.and_then(StateMap::get))
            .ok_or_else(|| MissingState::new::<T>(route, listener))
    }

    /// The peer's address.
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.context().map(|c| c.peer)
    }

    /// The name of the listener that accepted the request.
    fn listener_name(&self) -> Option<&str> {
        self.context().map(|c| c.listener.name())
    }

    /// The listener that accepted the request (its counters, status, drain notices).
    fn listener(&self) -> Option<&ListenerRef> {
        self.context().map(|c| &c.listener)
    }

    /// Waits `d` on the runtime the request is served on (tokio's or smol's timer, or
    /// a simulation's virtual clock). Without a server context (a request built by
    /// hand) a plain thread does the waiting.
    fn sleep(&self, d: Duration) -> BoxFuture<()> {
        match self.listener() {
            Some(listener) => listener.sleep(d),
            None => thread_sleep(d),
        }
    }

    /// A number unique to this request within the process.
    fn request_id(&self) -> Option<u64> {
        self.context().map(|c| c.id)
    }

    /// The first value of `name` in the query string, decoded (`%XX` escapes, and `+`
    /// as a space, as HTML forms send it); `Some("")` for a bare `?name`.
    ///
    /// ```
    /// use roadrunner_core::{Request, RequestExt};
    ///
    /// let mut req = Request::default();
    /// *req.uri_mut() = "/search?q=red+shoes&page=2&page=3".parse().unwrap();
    /// assert_eq!(req.query("q").as_deref(), Some("red shoes"));
    /// let page: u32 = req.query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    /// assert_eq!(page, 2);
    /// assert_eq!(req.query("sort"), None);
    /// assert_eq!(req.query_pairs().filter(|(name, _)| name == "page").count(), 2);
    /// ```
    fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value)
    }

    /// Every name and value of the query string, decoded, in order.
    fn query_pairs(&self) -> QueryPairs<'_>;
}

impl RequestExt for Request {
    fn context(&self) -> Option<&RequestContext> {
        self.extensions().get()
    }

    fn query_pairs(&self) -> QueryPairs<'_> {
        QueryPairs::new(self.uri().query())
    }
}

/// A timer for code running outside any server: a thread sleeps and then wakes it.
fn thread_sleep(d: Duration) -> BoxFuture<()> {
    let (tx, rx) = async_channel::bounded::<()>(1);
    std::thread::spawn(move || {
        std::thread::sleep(d);
        drop(tx);
    });
    Box::pin(async move {
        let _ = rx.recv().await;
    })
}

/// Trailer fields of a chunked request body, in the request's extensions when sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trailers(pub http::HeaderMap);
