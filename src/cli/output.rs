//! Printing conventions: JSON to stdout, human text to stderr in JSON mode.

use serde::Serialize;

/// Print one JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), super::CliError> {
    let encode = |e: serde_json::Error| super::CliError::failed(format!("cannot encode the report as JSON: {e}"));
    // Every document goes out with credentials in URLs masked (an index URL may carry a token).
    let mut doc = serde_json::to_value(value).map_err(encode)?;
    crate::redact::redact_json(&mut doc);
    let s = serde_json::to_string_pretty(&doc).map_err(encode)?;
    println!("{s}");
    Ok(())
}

/// Whether colors are allowed: not with --no-color, NO_COLOR, or a non-terminal.
pub fn color_enabled(no_color_flag: bool, is_terminal: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal
}
