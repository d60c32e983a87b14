//! Compatibility data: bundled facts (assets/compat.toml) and what the live index says.

pub mod arch;
pub mod available;
pub mod cache;
pub mod data;
pub mod driver;
pub mod driver_fit;
pub mod index;
pub mod index_url;
pub mod mirrors;
pub mod platform;
pub mod probe;
pub mod tags;
pub mod wheel_name;
