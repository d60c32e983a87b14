//! Small drawing helpers shared by the screens. Everything here is a pure function of
//! its arguments.

pub mod bars;
pub mod chrome;
pub mod doc;
pub mod log;
pub mod text;
