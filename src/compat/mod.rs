//! Compatibility data: bundled facts (assets/compat.toml) and what the live index says.

pub mod available;
pub mod cache;
pub mod index;
pub mod tags;
pub mod wheel_name;
