//! Compatibility data: bundled facts (assets/compat.toml) and what the live index says.

pub mod arch;
pub mod available;
pub mod data;
pub mod driver;
pub mod platform;
