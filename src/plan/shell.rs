//! Steps shown as commands a user can paste: argv quoted for the target OS's shell
//! (POSIX sh on Linux/macOS, PowerShell on Windows). Display only: torchup itself never
//! runs a shell string.

use crate::facts::Os;

/// One argv as a command line for `os`'s usual shell.
pub fn command_line(os: Os, argv: &[String]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| quote(os, a)).collect();
    let line = quoted.join(" ");
    // PowerShell treats a quoted first word as a string, not a command: call it with `&`.
    match (os, quoted.first()) {
        (Os::Windows, Some(first)) if first.starts_with(['\'', '"']) => format!("& {line}"),
        _ => line,
    }
}

/// Quote one word when it needs it.
pub fn quote(os: Os, word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.,/:=+@%".contains(c) || (os == Os::Windows && c == '\\');
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_string();
    }
    // Double quotes read best when nothing inside them expands ($, `, \, ! in sh).
    let dq_unsafe: &[char] = if os == Os::Windows { &['"', '$', '`'] } else { &['"', '$', '`', '\\', '!'] };
    if !word.contains(dq_unsafe) {
        return format!("\"{word}\"");
    }
    // Single quotes are literal in both POSIX sh and PowerShell; only the quote itself
    // needs escaping (sh: '\'' ; PowerShell: '').
    match os {
        Os::Windows => format!("'{}'", word.replace('\'', "''")),
        _ => format!("'{}'", word.replace('\'', "'\\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn posix_quoting() {
        let argv = v(&[
            "/usr/bin/python3",
            "-m",
            "pip",
            "install",
            "torch==2.5.1+cu124",
            "--index-url",
            "https://x/whl/cu124",
        ]);
        assert_eq!(
            command_line(Os::Linux, &argv),
            "/usr/bin/python3 -m pip install torch==2.5.1+cu124 --index-url https://x/whl/cu124"
        );
        assert_eq!(quote(Os::Linux, "/home/me/my env/bin/python"), "\"/home/me/my env/bin/python\"");
        assert_eq!(quote(Os::Linux, "print('x')"), "\"print('x')\"");
        assert_eq!(quote(Os::Linux, "say \"$HOME\" it's"), "'say \"$HOME\" it'\\''s'");
        assert_eq!(quote(Os::Linux, ""), "\"\"");
    }

    #[test]
    fn powershell_quoting() {
        let argv = v(&["C:\\Program Files\\Python311\\python.exe", "-m", "pip", "uninstall", "-y", "torch"]);
        assert_eq!(
            command_line(Os::Windows, &argv),
            "& \"C:\\Program Files\\Python311\\python.exe\" -m pip uninstall -y torch"
        );
        let plain = v(&["C:\\Python311\\python.exe", "-c", "print('hi')"]);
        assert_eq!(command_line(Os::Windows, &plain), "C:\\Python311\\python.exe -c \"print('hi')\"");
        assert_eq!(quote(Os::Windows, "it's $x"), "'it''s $x'");
    }
}
