//! The small version texts torchup reads everywhere, each parsed by one function:
//! "major.minor" (a compute capability "8.6", a CUDA version "12.4") and the CUDA wheel
//! variant names ("cu124" ↔ CUDA 12.4). Depends on nothing, so facts, compat, plan and
//! the engine all use the same rule.

/// "8.6" → (8, 6); " 12.0 " → (12, 0). Exactly two dot-separated runs of 1–3 digits.
pub fn parse_major_minor(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once('.')?;
    let digits = |t: &str| !t.is_empty() && t.len() <= 3 && t.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The CUDA version of a variant directory: "cu124" → (12, 4), "cu92" → (9, 2),
/// "cu130" → (13, 0). "cu" and two or three digits, the last one the minor (PyTorch's
/// naming since cu80); anything else ("cpu", "cu1", "cu1234", "rocm6.2") is not one.
pub(crate) fn cuda_of_variant(name: &str) -> Option<(u32, u32)> {
    let digits = name.strip_prefix("cu")?;
    if !(2..=3).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (major, minor) = digits.split_at(digits.len() - 1);
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The variant name for a CUDA version: (12, 4) → "cu124".
pub(crate) fn variant_of(major: u32, minor: u32) -> String {
    format!("cu{major}{minor}")
}

/// The variant of a build that reports `torch.version.cuda` (`None`: a CPU build):
/// "12.4" → "cu124". A text that is not "major.minor" keeps the old spelling (dots
/// dropped) so it still compares unequal to every real variant.
pub(crate) fn variant_of_torch_cuda(cuda: Option<&str>) -> String {
    match cuda {
        None => "cpu".to_string(),
        Some(c) => match parse_major_minor(c) {
            Some((major, minor)) => variant_of(major, minor),
            None => format!("cu{}", c.trim().replace('.', "")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::arch::Capability;
    use crate::compat::data::CudaVersion;
    use crate::facts::TorchFacts;

    /// Every place that used to parse "major.minor" on its own, fed the same inputs.
    #[test]
    fn major_minor_is_one_rule_everywhere() {
        let table: [(&str, Option<(u32, u32)>); 10] = [
            ("8.6", Some((8, 6))),
            (" 12.0 ", Some((12, 0))),
            ("13.2", Some((13, 2))),
            ("8", None),
            ("8.", None),
            (".6", None),
            ("8.6.1", None),
            ("x.y", None),
            ("-1.0", None),
            ("1234.0", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_major_minor(text), want, "{text:?}");
            assert_eq!(crate::facts::parse_capability(text), want, "facts::parse_capability {text:?}");
            let cap = text.parse::<Capability>().ok().map(|c| (c.major, c.minor));
            assert_eq!(cap, want, "Capability {text:?}");
            let cuda = text.parse::<CudaVersion>().ok().map(|c| (c.major, c.minor));
            assert_eq!(cuda, want, "CudaVersion {text:?}");
        }
    }

    /// Every place that used to map variants and CUDA versions, fed the same inputs.
    #[test]
    fn variant_and_cuda_version_are_one_rule_everywhere() {
        let table: [(&str, Option<(u32, u32)>); 9] = [
            ("cu124", Some((12, 4))),
            ("cu130", Some((13, 0))),
            ("cu118", Some((11, 8))),
            ("cu92", Some((9, 2))),
            ("cu1", None),
            ("cu1234", None),
            ("cpu", None),
            ("rocm6.2", None),
            ("cu12a", None),
        ];
        for (name, want) in table {
            assert_eq!(cuda_of_variant(name), want, "{name}");
            let data = CudaVersion::of_variant(name).map(|c| (c.major, c.minor));
            assert_eq!(data, want, "compat::data {name}");
            if name.starts_with("cu") {
                assert_eq!(crate::compat::index::page::is_variant_name(name), want.is_some(), "index dir {name}");
            }
            if let Some((major, minor)) = want {
                // And back: the installed build's variant, and CudaVersion's name.
                let t = TorchFacts { cuda: Some(format!("{major}.{minor}")), ..Default::default() };
                assert_eq!(t.variant(), name, "TorchFacts::variant");
                assert_eq!(CudaVersion { major, minor }.variant(), name);
                assert_eq!(variant_of_torch_cuda(Some(&format!("{major}.{minor}"))), name);
            }
        }
        assert_eq!(variant_of_torch_cuda(None), "cpu");
        assert_eq!(TorchFacts::default().variant(), "cpu");
    }
}
