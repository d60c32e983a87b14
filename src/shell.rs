//! Commands shown to users in the syntax of their shell: PowerShell (Windows Terminal's
//! default), cmd, or POSIX sh. Only for display and copy-paste: torchup itself always runs
//! argv vectors, never a shell string.

use crate::facts::Os;
use crate::facts::platform::HostEnv;

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
            Os::Windows => Shell::PowerShell,
            _ => Shell::Posix,
        }
    }

    /// Render an argv as one line for this shell.
    pub fn render(self, argv: &[String]) -> String {
        let mut parts: Vec<String> = argv.iter().map(|a| self.quote(a)).collect();
        // PowerShell treats a quoted first word as a string, not a command: call it with `&`.
        if self == Shell::PowerShell && parts.first().is_some_and(|p| p.starts_with('\'')) {
            parts.insert(0, "&".into());
        }
        parts.join(" ")
    }

    /// Quote one argument if it needs it.
    pub fn quote(self, arg: &str) -> String {
        match self {
            Shell::Posix => {
                if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:+,@%".contains(c)) {
                    arg.to_string()
                } else {
                    format!("'{}'", arg.replace('\'', r"'\''"))
                }
            }
            Shell::PowerShell => {
                if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || r"-_./\=:+,%".contains(c)) {
                    arg.to_string()
                } else {
                    format!("'{}'", arg.replace('\'', "''"))
                }
            }
            Shell::Cmd => {
                if !arg.is_empty() && !arg.chars().any(|c| c.is_whitespace() || "&|<>^()\"=;,".contains(c)) {
                    arg.to_string()
                } else {
                    format!("\"{}\"", arg.replace('"', "\"\""))
                }
            }
        }
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
    fn powershell_calls_quoted_programs_with_ampersand() {
        let argv = v(&[r"C:\Program Files\Python311\python.exe", "-m", "pip", "install", "torch==2.5.1+cu124"]);
        assert_eq!(
            Shell::PowerShell.render(&argv),
            r"& 'C:\Program Files\Python311\python.exe' -m pip install torch==2.5.1+cu124"
        );
        assert_eq!(Shell::PowerShell.quote("it's"), "'it''s'");
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
    fn posix_single_quotes() {
        let argv = v(&[
            "/home/u/my env/bin/python",
            "-m",
            "pip",
            "install",
            "torch==2.5.1+cpu",
            "--index-url",
            "https://download.pytorch.org/whl/cpu",
        ]);
        assert_eq!(
            Shell::Posix.render(&argv),
            "'/home/u/my env/bin/python' -m pip install torch==2.5.1+cpu --index-url https://download.pytorch.org/whl/cpu"
        );
        assert_eq!(Shell::Posix.quote("a'b"), r"'a'\''b'");
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
