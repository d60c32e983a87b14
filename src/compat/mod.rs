//! Compatibility data: bundled facts (assets/compat.toml) and what the live index says.

pub mod available;
