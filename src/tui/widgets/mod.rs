//! Small drawing helpers shared by the screens. Everything here is a pure function of
//! its arguments.

pub(crate) mod bars;
pub(crate) mod chrome;
pub(crate) mod doc;
pub mod log;
pub(crate) mod text;
