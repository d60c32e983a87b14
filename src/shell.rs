//! Commands shown to users in the syntax of their shell: PowerShell (Windows Terminal's
//! default), cmd, or POSIX sh. Only for display and copy-paste: torchup itself always runs
//! argv vectors, never a shell string.

use crate::facts::Os;
use crate::facts::platform::HostEnv;

/// Render an argv for humans in this machine's usual shell (logs, notices, restore
/// commands). The process runner never renders argv: it only runs them.
pub fn display_argv(argv: &[String]) -> String {
    Shell::default_for(Os::current()).render(argv)
}

/// A shell a user types commands into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    PowerShell,
    Cmd,
    Posix,
}

impl Shell {
    /// The user's likely shell. On Windows, cmd sets `PROMPT` and PowerShell does not, so
    /// `PROMPT` marks cmd; everything else on Windows is treated as PowerShell.
    pub fn detect(os: Os, env: &HostEnv) -> Shell {
        match os {
            Os::Windows if env.get("PROMPT").is_some() => Shell::Cmd,
            _ => Shell::default_for(os),
        }
    }

    /// The usual shell of an OS when nothing else is known (a saved facts file).
    pub fn default_for(os: Os) -> Shell {
        if os == Os::Windows { Shell::PowerShell } else { Shell::Posix }
    }

    /// Render an argv as one line for this shell, credentials in URLs masked: a shown
    /// command is for reading and pasting, never for carrying a secret.
    pub fn render(self, argv: &[String]) -> String {
        let quoted: Vec<String> = argv.iter().map(|a| self.quote(&crate::redact::redact_text(a))).collect();
        let line = quoted.join(" ");
        // PowerShell treats a quoted first word as a string, not a command: call it with `&`.
        match (self, quoted.first()) {
            (Shell::PowerShell, Some(first)) if first.starts_with(['\'', '"']) => format!("& {line}"),
            _ => line,
        }
    }

    /// Quote one argument if it needs it.
    pub fn quote(self, word: &str) -> String {
        if self == Shell::Cmd {
            return if !word.is_empty() && !word.chars().any(|c| c.is_whitespace() || "&|<>^()\"=;,".contains(c)) {
                word.to_string()
            } else {
                format!("\"{}\"", word.replace('"', "\"\""))
            };
        }
        let windows = self == Shell::PowerShell;
        let safe = |c: char| c.is_ascii_alphanumeric() || "-_.,/:=+@%".contains(c) || (windows && c == '\\');
        if !word.is_empty() && word.chars().all(safe) {
            return word.to_string();
        }
        // Double quotes read best when nothing inside them expands ($, `, \, ! in sh).
        let dq_unsafe: &[char] = if windows { &['"', '$', '`'] } else { &['"', '$', '`', '\\', '!'] };
        if !word.contains(dq_unsafe) {
            return format!("\"{word}\"");
        }
        // Single quotes are literal in both POSIX sh and PowerShell; only the quote itself
        // needs escaping (sh: '\'' ; PowerShell: '').
        if windows { format!("'{}'", word.replace('\'', "''")) } else { format!("'{}'", word.replace('\'', "'\\''")) }
    }

    /// How to clear an environment variable for this session.
    pub fn unset_env(self, name: &str) -> String {
        match self {
            Shell::PowerShell => format!("Remove-Item Env:{name}"),
            Shell::Cmd => format!("set {name}="),
            Shell::Posix => format!("unset {name}"),
        }
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
            Shell::Posix.render(&argv),
            "/usr/bin/python3 -m pip install torch==2.5.1+cu124 --index-url https://x/whl/cu124"
        );
        assert_eq!(Shell::Posix.quote("/home/me/my env/bin/python"), "\"/home/me/my env/bin/python\"");
        assert_eq!(Shell::Posix.quote("print('x')"), "\"print('x')\"");
        assert_eq!(Shell::Posix.quote("say \"$HOME\" it's"), "'say \"$HOME\" it'\\''s'");
        assert_eq!(Shell::Posix.quote(""), "\"\"");
    }

    #[test]
    fn powershell_calls_quoted_programs_with_ampersand() {
        let argv = v(&["C:\\Program Files\\Python311\\python.exe", "-m", "pip", "uninstall", "-y", "torch"]);
        assert_eq!(
            Shell::PowerShell.render(&argv),
            "& \"C:\\Program Files\\Python311\\python.exe\" -m pip uninstall -y torch"
        );
        let plain = v(&["C:\\Python311\\python.exe", "-c", "print('hi')"]);
        assert_eq!(Shell::PowerShell.render(&plain), "C:\\Python311\\python.exe -c \"print('hi')\"");
        assert_eq!(Shell::PowerShell.quote("it's $x"), "'it''s $x'");
    }

    #[test]
    fn cmd_uses_double_quotes() {
        let argv = v(&[r"C:\Users\Wei Chen\env\Scripts\python.exe", "-m", "pip", "install", "-r", "req a.txt"]);
        assert_eq!(
            Shell::Cmd.render(&argv),
            r#""C:\Users\Wei Chen\env\Scripts\python.exe" -m pip install -r "req a.txt""#
        );
    }

    #[test]
    fn shell_detection_and_unset() {
        let cmd = HostEnv::from_pairs([("PROMPT", "$P$G")]).windows_style();
        assert_eq!(Shell::detect(Os::Windows, &cmd), Shell::Cmd);
        assert_eq!(Shell::detect(Os::Windows, &HostEnv::default()), Shell::PowerShell);
        assert_eq!(Shell::detect(Os::Linux, &cmd), Shell::Posix);
        assert_eq!(Shell::PowerShell.unset_env("PIP_EXTRA_INDEX_URL"), "Remove-Item Env:PIP_EXTRA_INDEX_URL");
        assert_eq!(Shell::Cmd.unset_env("PIP_EXTRA_INDEX_URL"), "set PIP_EXTRA_INDEX_URL=");
    }
}
