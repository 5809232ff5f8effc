//! Connection drivers: one per protocol, each polling socket, timer and handler
//! together for one connection.

mod clock;
pub(crate) mod h1;
