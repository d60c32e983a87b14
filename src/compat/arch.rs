//! GPU compute capabilities and the architecture lists compiled into a wheel.
//!
//! The rule (compat-facts §5.3): a cubin `sm_XY` runs on GPUs of the same major X with minor
//! ≥ Y (sm_80 runs on 8.6 and 8.9); PTX `compute_XY` can be JIT-compiled for any GPU with
//! capability ≥ X.Y, given a driver that understands that PTX. Nothing else runs.

use std::fmt;
use std::str::FromStr;

/// A compute capability such as 8.6. Ordered as (major, minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Capability {
    pub major: u32,
    pub minor: u32,
}

impl Capability {
    pub const fn new(major: u32, minor: u32) -> Self {
        Capability { major, minor }
    }

    /// "sm_86".
    pub fn sm(self) -> String {
        format!("sm_{}{}", self.major, self.minor)
    }

    /// "compute_86".
    pub fn compute(self) -> String {
        format!("compute_{}{}", self.major, self.minor)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Not a compute capability / architecture list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchError {
    #[error("'{0}' is not a compute capability (expected e.g. 8.6)")]
    Capability(String),
    #[error("architecture list '{0}' is empty")]
    Empty(String),
    #[error("architecture list lists {0} twice")]
    Duplicate(String),
}

impl FromStr for Capability {
    type Err = ArchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ArchError::Capability(s.to_string());
        let (a, b) = s.trim().split_once('.').ok_or_else(err)?;
        let digits = |t: &str| !t.is_empty() && t.len() <= 3 && t.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return Err(err());
        }
        Ok(Capability { major: a.parse().map_err(|_| err())?, minor: b.parse().map_err(|_| err())? })
    }
}

/// One entry of TORCH_CUDA_ARCH_LIST: SASS for `cap`, plus PTX when `ptx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchEntry {
    pub cap: Capability,
    pub ptx: bool,
}

/// The architectures compiled into a wheel ("5.0;6.0;…;12.0+PTX"), sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchList {
    entries: Vec<ArchEntry>,
}

/// How (whether) a wheel's code runs on a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchMatch {
    /// Native code for this family: sm_XY with the same major and minor ≤ the GPU's.
    Sass(Capability),
    /// Only through JIT of PTX compute_XY ≤ the GPU's capability.
    Ptx(Capability),
    /// Nothing in the wheel runs on this GPU.
    None,
}

impl ArchList {
    pub fn entries(&self) -> &[ArchEntry] {
        &self.entries
    }

    /// The oldest SASS architecture (the oldest GPU family with native code).
    pub fn min_sass(&self) -> Option<Capability> {
        self.entries.first().map(|e| e.cap)
    }

    /// The newest architecture in the list.
    pub fn max(&self) -> Option<Capability> {
        self.entries.last().map(|e| e.cap)
    }

    /// Whether PTX of `p` is the build's forward-compatibility PTX (on its newest
    /// architecture, as PyTorch's "12.0+PTX"). PTX of an old architecture below newer SASS
    /// (Windows cu11x "3.7+PTX") lacks every kernel that needs a newer GPU feature, so it does
    /// not make a new GPU supported.
    pub fn is_forward_ptx(&self, p: Capability) -> bool {
        self.entries.last().is_some_and(|e| e.ptx && e.cap == p)
    }

    /// Whether any entry carries PTX.
    pub fn has_ptx(&self) -> bool {
        self.entries.iter().any(|e| e.ptx)
    }

    /// Decide how this list runs on a GPU of capability `gpu`. Native code wins over PTX.
    pub fn run_on(&self, gpu: Capability) -> ArchMatch {
        let sass =
            self.entries.iter().filter(|e| e.cap.major == gpu.major && e.cap.minor <= gpu.minor).map(|e| e.cap).max();
        if let Some(s) = sass {
            return ArchMatch::Sass(s);
        }
        match self.entries.iter().filter(|e| e.ptx && e.cap <= gpu).map(|e| e.cap).max() {
            Some(p) => ArchMatch::Ptx(p),
            None => ArchMatch::None,
        }
    }
}

impl FromStr for ArchList {
    type Err = ArchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut entries = Vec::new();
        for item in s.split([';', ' ']).map(str::trim).filter(|i| !i.is_empty()) {
            let (cap, ptx) = match item.strip_suffix("+PTX") {
                Some(c) => (c, true),
                None => (item, false),
            };
            let cap: Capability = cap.parse()?;
            if entries.iter().any(|e: &ArchEntry| e.cap == cap) {
                return Err(ArchError::Duplicate(cap.to_string()));
            }
            entries.push(ArchEntry { cap, ptx });
        }
        if entries.is_empty() {
            return Err(ArchError::Empty(s.to_string()));
        }
        entries.sort_by_key(|e| e.cap);
        Ok(ArchList { entries })
    }
}

impl fmt::Display for ArchList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{}{}", e.cap, if e.ptx { "+PTX" } else { "" })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> ArchList {
        s.parse().unwrap()
    }
    fn cc(s: &str) -> Capability {
        s.parse().unwrap()
    }

    #[test]
    fn sass_runs_on_same_major_with_higher_minor() {
        let l = list("5.0;6.0;7.0;7.5;8.0;8.6;9.0");
        assert_eq!(l.run_on(cc("8.6")), ArchMatch::Sass(cc("8.6")));
        assert_eq!(l.run_on(cc("8.9")), ArchMatch::Sass(cc("8.6")), "Ada runs sm_86");
        assert_eq!(l.run_on(cc("6.1")), ArchMatch::Sass(cc("6.0")), "Pascal runs sm_60");
        assert_eq!(l.run_on(cc("12.0")), ArchMatch::None, "no PTX: Blackwell cannot run it");
        assert_eq!(l.run_on(cc("3.5")), ArchMatch::None);
    }

    #[test]
    fn ptx_runs_forward_only() {
        let l = list("7.5;8.0;8.6;9.0;10.0;12.0+PTX");
        assert_eq!(l.run_on(cc("12.1")), ArchMatch::Sass(cc("12.0")));
        assert_eq!(l.run_on(cc("13.0")), ArchMatch::Ptx(cc("12.0")));
        assert_eq!(l.run_on(cc("11.0")), ArchMatch::None, "PTX 12.0 cannot run on 11.0");
        assert_eq!(l.run_on(cc("6.1")), ArchMatch::None, "Pascal dropped");
        assert_eq!(l.run_on(cc("7.0")), ArchMatch::None, "Volta dropped");
    }

    #[test]
    fn windows_cu118_ptx_37() {
        let l = list("3.7+PTX;5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0");
        assert_eq!(l.run_on(cc("3.7")), ArchMatch::Sass(cc("3.7")));
        assert_eq!(l.run_on(cc("3.5")), ArchMatch::None);
        assert_eq!(l.run_on(cc("12.0")), ArchMatch::Ptx(cc("3.7")));
        assert!(!l.is_forward_ptx(cc("3.7")), "legacy PTX, not forward compatibility");
        assert_eq!(l.min_sass(), Some(cc("3.7")));
        assert!(list("7.5;12.0+PTX").is_forward_ptx(cc("12.0")));
    }

    #[test]
    fn parse_and_display_round_trip() {
        let l = list("9.0+PTX;5.0;8.6");
        assert_eq!(l.to_string(), "5.0;8.6;9.0+PTX");
        assert!(l.has_ptx());
        assert!("".parse::<ArchList>().is_err());
        assert!("5.0;5.0".parse::<ArchList>().is_err());
        assert!("sm_86".parse::<ArchList>().is_err());
        assert!("8".parse::<Capability>().is_err());
        assert_eq!(cc("12.0").sm(), "sm_120");
        assert_eq!(cc("9.0").compute(), "compute_90");
    }
}
