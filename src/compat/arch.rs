//! GPU compute capabilities and the architecture lists compiled into a wheel.
//!
//! The one place that decides whether a build covers a GPU ([`ArchList::coverage`]): the
//! planner asks it of the compat data's lists, the smoke test's report is judged by it
//! (the script only reports `torch.cuda.get_arch_list()` and the capability), and the
//! diagnoses read the report's list through [`ArchList::from_torch_names`].
//!
//! The rule: a cubin `sm_XY` runs on GPUs of the same major X with minor
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
        let (major, minor) =
            crate::version::parse_major_minor(s).ok_or_else(|| ArchError::Capability(s.to_string()))?;
        Ok(Capability { major, minor })
    }
}

/// One entry of TORCH_CUDA_ARCH_LIST: SASS for `cap`, plus PTX when `ptx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchEntry {
    pub cap: Capability,
    pub ptx: bool,
    /// An arch-specific cubin (`sm_90a`): runs only on exactly `cap`, no PTX.
    pub exact: bool,
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

/// Whether a build supports a GPU: torchup's one decision on GPU architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Native code (SASS) for the GPU's family.
    Native(Capability),
    /// The build's forward-compatibility PTX (on its newest architecture), JIT-compiled on
    /// first use by a driver that understands it.
    Jit(Capability),
    /// Only PTX of an old architecture below newer SASS (Windows cu11x "3.7+PTX"): it lacks
    /// every kernel that needs a newer GPU feature, so the GPU is not supported.
    LegacyPtx(Capability),
    /// Nothing in the build runs on the GPU.
    None,
}

impl Coverage {
    /// The build supports the GPU (natively or through its forward PTX).
    pub fn supported(self) -> bool {
        matches!(self, Coverage::Native(_) | Coverage::Jit(_))
    }
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

    /// Whether (and how) this build supports a GPU of capability `gpu`.
    pub fn coverage(&self, gpu: Capability) -> Coverage {
        match self.run_on(gpu) {
            ArchMatch::Sass(s) => Coverage::Native(s),
            ArchMatch::Ptx(p) if self.is_forward_ptx(p) => Coverage::Jit(p),
            ArchMatch::Ptx(p) => Coverage::LegacyPtx(p),
            ArchMatch::None => Coverage::None,
        }
    }

    /// How this list's code runs on a GPU of capability `gpu` (the hardware's rule, before
    /// torchup's judgement in [`ArchList::coverage`]). Native code wins over PTX.
    pub fn run_on(&self, gpu: Capability) -> ArchMatch {
        let sass = self
            .entries
            .iter()
            .filter(|e| if e.exact { e.cap == gpu } else { e.cap.major == gpu.major && e.cap.minor <= gpu.minor })
            .map(|e| e.cap)
            .max();
        if let Some(s) = sass {
            return ArchMatch::Sass(s);
        }
        match self.entries.iter().filter(|e| e.ptx && e.cap <= gpu).map(|e| e.cap).max() {
            Some(p) => ArchMatch::Ptx(p),
            None => ArchMatch::None,
        }
    }

    /// The list as `torch.cuda.get_arch_list()` reports it: `sm_86`, `compute_90` (PTX),
    /// `sm_90a` (arch-specific), `sm_100f` (family). Unknown names are skipped; None when
    /// nothing is left.
    pub fn from_torch_names<S: AsRef<str>>(names: &[S]) -> Option<ArchList> {
        let mut entries: Vec<ArchEntry> = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            let (ptx, rest) = match (name.strip_prefix("sm_"), name.strip_prefix("compute_")) {
                (Some(r), _) => (false, r),
                (_, Some(r)) => (true, r),
                _ => continue,
            };
            let (digits, exact) = match rest.strip_suffix('a') {
                Some(d) => (d, true),
                None => (rest.strip_suffix('f').unwrap_or(rest), false),
            };
            if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            // "86" reads like the variant "cu86": the last digit is the minor.
            let Some((major, minor)) = crate::version::cuda_of_variant(&format!("cu{digits}")) else { continue };
            let cap = Capability::new(major, minor);
            let exact = exact && !ptx;
            match entries.iter_mut().find(|e| e.cap == cap && (e.exact == exact || ptx)) {
                Some(e) => e.ptx |= ptx,
                None => entries.push(ArchEntry { cap, ptx, exact }),
            }
        }
        entries.sort_by_key(|e| (e.cap, e.exact));
        (!entries.is_empty()).then_some(ArchList { entries })
    }

    /// The torch name of the SASS entry for `cap` (`sm_86`, or `sm_90a` when only the
    /// arch-specific cubin is there).
    pub fn torch_name_of(&self, cap: Capability) -> String {
        match self.entries.iter().find(|e| e.cap == cap && !e.exact) {
            Some(_) => cap.sm(),
            None if self.entries.iter().any(|e| e.cap == cap && e.exact) => format!("{}a", cap.sm()),
            None => cap.sm(),
        }
    }

    /// The list in torch's naming (`sm_86 compute_120`), for messages.
    pub fn torch_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.entries {
            out.push(if e.exact { format!("{}a", e.cap.sm()) } else { e.cap.sm() });
            if e.ptx {
                out.push(e.cap.compute());
            }
        }
        out
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
            entries.push(ArchEntry { cap, ptx, exact: false });
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
            write!(f, "{}{}{}", e.cap, if e.exact { "a" } else { "" }, if e.ptx { "+PTX" } else { "" })?;
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
