//! NVIDIA driver versions, compared numerically.
//!
//! NVIDIA versions are dotted numbers ("581.29", "580.65.06", "450.80.02"). Comparing them
//! as text gets "581.29" vs "580.65.06" right only by luck, so they are parsed into numbers.
//! A floor written as a branch ("580") is met by any 580.x driver: missing parts count as 0.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed NVIDIA driver version; keeps the text it came from for messages.
#[derive(Debug, Clone)]
pub struct DriverVersion {
    parts: Vec<u32>,
    text: String,
}

/// The text is not an NVIDIA driver version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an NVIDIA driver version (expected numbers such as 581.29 or 580.65.06)")]
pub struct DriverVersionError(pub String);

impl DriverVersion {
    /// The numeric parts ([581, 29]).
    pub fn parts(&self) -> &[u32] {
        &self.parts
    }

    /// The branch (first number): 581 for "581.29".
    pub fn branch(&self) -> u32 {
        // Parsing guarantees at least one part.
        self.parts[0]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn part(&self, i: usize) -> u32 {
        self.parts.get(i).copied().unwrap_or(0)
    }
}

impl FromStr for DriverVersion {
    type Err = DriverVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let parts: Option<Vec<u32>> = text
            .split('.')
            .map(|p| if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) { None } else { p.parse().ok() })
            .collect();
        match parts {
            Some(parts) if !parts.is_empty() && parts.len() <= 4 => Ok(DriverVersion { parts, text: text.to_string() }),
            _ => Err(DriverVersionError(s.to_string())),
        }
    }
}

impl Ord for DriverVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        (0..n).map(|i| self.part(i).cmp(&other.part(i))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for DriverVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DriverVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DriverVersion {}

impl fmt::Display for DriverVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DriverVersion {
        s.parse().unwrap()
    }

    #[test]
    fn numeric_not_textual() {
        assert!(v("581.29") > v("580.65.06"));
        assert!(v("580.65.06") > v("580.9"));
        assert!(v("450.80.02") == v("450.80.2"));
        assert!(v("1000.1") > v("999.99"));
        assert!(v("528.24") < v("528.33"));
    }

    #[test]
    fn branch_floor_is_met_by_any_build_of_the_branch() {
        assert!(v("580.00") >= v("580"));
        assert!(v("580.65.06") >= v("580"));
        assert!(v("579.99") < v("580"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "581.", ".29", "581..1", "58a.1", "1.2.3.4.5", "-1"] {
            assert!(bad.parse::<DriverVersion>().is_err(), "{bad}");
        }
        assert_eq!(v(" 581.29 ").as_str(), "581.29");
        assert_eq!(v("581.29").branch(), 581);
    }
}
