//! What the request asks for, normalized: an explicit variant, a torch version or series,
//! "keep my version".

use std::str::FromStr;

use pep440_rs::Version;

use super::Request;
use crate::facts::Facts;

/// A torch version the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TorchSel {
    /// "2.5.1"
    Exact(Version),
    /// "2.5": the newest 2.5.x that runs.
    Series(Vec<u64>),
}

impl TorchSel {
    pub(crate) fn matches(&self, v: &Version) -> bool {
        match self {
            TorchSel::Exact(e) => e == v,
            TorchSel::Series(s) => v.release().starts_with(s),
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            TorchSel::Exact(v) => v.to_string(),
            TorchSel::Series(s) => s.iter().map(u64::to_string).collect::<Vec<_>>().join("."),
        }
    }
}

/// Where the torch selection came from, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TorchFrom {
    Flag,
    KeepVersion,
}

/// The normalized request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Intent {
    /// An explicit variant ("cu124", "cpu"); None = auto.
    pub variant: Option<String>,
    pub torch: Option<(TorchSel, TorchFrom)>,
    pub force: bool,
}

impl Intent {
    pub(crate) fn is_auto(&self) -> bool {
        self.variant.is_none() && self.torch.is_none()
    }

    pub(crate) fn wants_cpu(&self) -> bool {
        self.variant.as_deref() == Some("cpu")
    }

    /// Normalize a request. Err is a refusal reason (one line naming the fix).
    pub(crate) fn of(req: &Request, facts: &Facts) -> Result<Intent, String> {
        let mut variant = match req.variant.as_deref().map(str::trim) {
            None | Some("") | Some("auto") => None,
            Some(v) => {
                let v = v.to_ascii_lowercase();
                if v != "cpu" && crate::version::cuda_of_variant(&v).is_none() {
                    return Err(format!(
                        "'{v}' is not a variant: use auto, cpu or cuNNN (cu118, cu121, cu124, cu126, cu128, cu130, cu132, ...)"
                    ));
                }
                Some(v)
            }
        };
        let torch = if req.keep_version {
            let Some(t) = &facts.torch else {
                return Err("--keep-version: no torch is installed in the target Python; drop --keep-version".into());
            };
            let v = Version::from_str(t.version.trim())
                .map_err(|_| format!("--keep-version: the installed torch version '{}' cannot be read", t.version))?;
            Some((TorchSel::Exact(v.without_local()), TorchFrom::KeepVersion))
        } else if let Some(t) = req.torch.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let (base, local) = match t.split_once('+') {
                Some((b, l)) => (b, Some(l.to_ascii_lowercase())),
                None => (t, None),
            };
            if let Some(l) = local {
                if l != "cpu" && crate::version::cuda_of_variant(&l).is_none() {
                    return Err(format!("--torch {t}: '+{l}' is not a build label; write e.g. 2.5.1 or 2.5.1+cu124"));
                }
                match &variant {
                    Some(v) if *v != l => {
                        return Err(format!("--torch {t} and --variant {v} disagree: give the variant once"));
                    }
                    _ => variant = Some(l),
                }
            }
            let v =
                Version::from_str(base).map_err(|_| format!("--torch {t}: not a version; write e.g. 2.5.1 or 2.5"))?;
            if v.is_pre() || v.is_dev() || v.is_post() || v.release().len() > 3 || v.release().len() < 2 {
                return Err(format!("--torch {t}: give a release such as 2.5.1, or a series such as 2.5"));
            }
            let sel = if v.release().len() == 2 { TorchSel::Series(v.release().to_vec()) } else { TorchSel::Exact(v) };
            Some((sel, TorchFrom::Flag))
        } else {
            None
        };
        Ok(Intent { variant, torch, force: req.force })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::TorchFacts;

    fn facts(torch: Option<&str>) -> Facts {
        Facts {
            torch: torch.map(|v| TorchFacts { version: v.into(), cuda: None, ..Default::default() }),
            ..Facts::bare_linux()
        }
    }

    fn req(variant: Option<&str>, torch: Option<&str>) -> Request {
        Request { variant: variant.map(Into::into), torch: torch.map(Into::into), ..Request::default() }
    }

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn auto_and_explicit() {
        let f = facts(None);
        assert!(Intent::of(&req(None, None), &f).unwrap().is_auto());
        assert!(Intent::of(&req(Some("auto"), None), &f).unwrap().is_auto());
        assert_eq!(Intent::of(&req(Some("CU124"), None), &f).unwrap().variant.as_deref(), Some("cu124"));
        assert!(Intent::of(&req(Some("cpu"), None), &f).unwrap().wants_cpu());
        assert!(Intent::of(&req(Some("cuda"), None), &f).unwrap_err().contains("not a variant"));
    }

    #[test]
    fn torch_versions_and_series() {
        let f = facts(None);
        let w = Intent::of(&req(None, Some("2.5")), &f).unwrap();
        let (sel, from) = w.torch.unwrap();
        assert_eq!(from, TorchFrom::Flag);
        assert!(sel.matches(&v("2.5.0")) && sel.matches(&v("2.5.1")) && !sel.matches(&v("2.15.0")));
        let w = Intent::of(&req(None, Some("2.5.1+cu121")), &f).unwrap();
        assert_eq!(w.variant.as_deref(), Some("cu121"));
        assert_eq!(w.torch.unwrap().0, TorchSel::Exact(v("2.5.1")));
        assert!(Intent::of(&req(Some("cu124"), Some("2.5.1+cu121")), &f).unwrap_err().contains("disagree"));
        assert!(Intent::of(&req(None, Some("2.5.1+rocm6.2")), &f).unwrap_err().contains("not a build label"));
        assert!(Intent::of(&req(None, Some("2")), &f).is_err());
        assert!(Intent::of(&req(None, Some("2.6.0rc1")), &f).is_err());
        assert!(Intent::of(&req(None, Some("latest")), &f).is_err());
    }

    #[test]
    fn keep_version_strips_the_local_label() {
        let mut r = req(None, None);
        r.keep_version = true;
        let w = Intent::of(&r, &facts(Some("2.5.1+cpu"))).unwrap();
        assert_eq!(w.torch, Some((TorchSel::Exact(v("2.5.1")), TorchFrom::KeepVersion)));
        assert!(Intent::of(&r, &facts(None)).unwrap_err().contains("no torch is installed"));
        assert!(Intent::of(&r, &facts(Some("garbage"))).unwrap_err().contains("cannot be read"));
    }
}
