//! The HTTP/3 server connection, end to end: our [`Endpoint`](roadrunner_h3::Endpoint)
//! and [`ServerConn`](roadrunner_h3::ServerConn) against a quinn-proto client in
//! memory (see [`pair`]), the complete example of driving them.

mod pair;

mod errors;
mod exchange;
mod flow;
mod lifecycle;
