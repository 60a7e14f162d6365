//! The pure domain of minyi (民意): the request life cycle, the five-level division tree, the
//! matter catalogue, the responsibility list (职责清单) and the working-day clocks.
//!
//! This crate does no I/O, spawns nothing, knows no wire format and no database. Everything here
//! is a value or a pure function of values, so that the rules of the city can be tested in
//! isolation and reused by the store, the server and the engine.

pub mod calendar;
pub mod catalog;
pub mod division;
pub mod enterprise;
pub mod ids;
pub mod kpi;
pub mod matchmaking;
pub mod personal;
pub mod request;
pub mod responsibility;
pub mod unit;

pub use ids::{DivisionId, MatterId, RequestId, RuleId, UnitId, UserId};
