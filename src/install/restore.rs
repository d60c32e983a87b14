//! How to put the previous torch family back: exact pins from the index each build came
//! from (`+cpu` → `<base>/cpu`, `+cu124` → `<base>/cu124`, no local label → the default
//! index, i.e. PyPI or the user's configured mirror).

use crate::facts::TorchFacts;
use crate::plan::Manager;

/// Where a version with this local label is published.
fn index_for(version: &str, base: &str) -> Option<String> {
    let (_, label) = version.split_once('+')?;
    let label = label.trim();
    let known = label == "cpu" || label.starts_with("cu") || label.starts_with("rocm") || label == "xpu";
    known.then(|| format!("{}/{}", base.trim_end_matches('/'), label))
}

/// The commands (argv vectors) that reinstall `previous` into `python`, torch's group first.
/// Members whose versions carry different local labels come from different indexes, so
/// there may be more than one command.
pub(crate) fn restore_commands(previous: &TorchFacts, python: &str, manager: Manager, base: &str) -> Vec<Vec<String>> {
    let members = previous.members();
    // Group by index, keeping torch's group first.
    let mut groups: Vec<(Option<String>, Vec<String>)> = Vec::new();
    for (name, version) in members {
        let index = index_for(version, base);
        let pin = format!("{name}=={version}");
        match groups.iter_mut().find(|(i, _)| *i == index) {
            Some((_, pins)) => pins.push(pin),
            None => groups.push((index, vec![pin])),
        }
    }
    groups
        .into_iter()
        .map(|(index, pins)| {
            let mut argv = install_prefix(python, manager);
            argv.extend(pins);
            if let Some(index) = index {
                argv.push("--index-url".into());
                argv.push(index);
            }
            argv
        })
        .collect()
}

/// `<python> -m pip install` or `uv pip install --python <python>`. Conda-installed builds are
/// restored through the env's pip too: torchup never mixes channels into a restore.
fn install_prefix(python: &str, manager: Manager) -> Vec<String> {
    match manager {
        Manager::Uv => vec!["uv".into(), "pip".into(), "install".into(), "--python".into(), python.into()],
        Manager::Pip | Manager::Conda => vec![python.into(), "-m".into(), "pip".into(), "install".into()],
    }
}

/// Uninstall whatever of the torch family is present (used when there was no torch before).
pub(crate) fn uninstall_family(python: &str, manager: Manager) -> Vec<String> {
    let mut argv = match manager {
        Manager::Uv => vec!["uv".into(), "pip".into(), "uninstall".into(), "--python".into(), python.into()],
        Manager::Pip | Manager::Conda => {
            vec![python.into(), "-m".into(), "pip".into(), "uninstall".into(), "-y".into()]
        }
    };
    argv.extend(crate::facts::TORCH_FAMILY.map(String::from));
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn torch(v: &str, tv: Option<&str>, ta: Option<&str>) -> TorchFacts {
        TorchFacts {
            version: v.into(),
            cuda: None,
            torchvision: tv.map(Into::into),
            torchaudio: ta.map(Into::into),
            xformers: None,
            dist_version: None,
            installer: Some("pip".into()),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_build_comes_back_from_the_cpu_index() {
        let prev = torch("2.5.1+cpu", Some("0.20.1+cpu"), Some("2.5.1+cpu"));
        let cmds = restore_commands(&prev, "/v/bin/python", Manager::Pip, "https://download.pytorch.org/whl/");
        assert_eq!(
            cmds,
            vec![vec![
                "/v/bin/python",
                "-m",
                "pip",
                "install",
                "torch==2.5.1+cpu",
                "torchvision==0.20.1+cpu",
                "torchaudio==2.5.1+cpu",
                "--index-url",
                "https://download.pytorch.org/whl/cpu"
            ]]
        );
    }

    #[test]
    fn pypi_builds_use_the_default_index_and_mixed_labels_split() {
        let prev = torch("2.15.0", Some("0.30.0+cu132"), None);
        let cmds = restore_commands(&prev, "py", Manager::Uv, "http://127.0.0.1:9/whl");
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0], vec!["uv", "pip", "install", "--python", "py", "torch==2.15.0"]);
        assert_eq!(cmds[1][5..], ["torchvision==0.30.0+cu132", "--index-url", "http://127.0.0.1:9/whl/cu132"]);
    }

    #[test]
    fn unknown_labels_are_not_guessed_into_an_index() {
        let prev = torch("2.3.0+git1234", None, None);
        let cmds = restore_commands(&prev, "py", Manager::Pip, "https://x/whl");
        assert_eq!(cmds, vec![vec!["py", "-m", "pip", "install", "torch==2.3.0+git1234"]]);
    }
}
