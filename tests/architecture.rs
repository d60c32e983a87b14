//! docs/architecture.md's "Who may import whom" table is the code's truth: every
//! `crate::X` a module's non-test code names must be allowed there, and every module in
//! src/lib.rs must have a row. A new import edge means updating the page, on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// module → allowed modules, from the table under "## Who may import whom".
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let section = doc.split("## Who may import whom").nth(1).expect("the import table section");
    let mut out = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let module = cells[1].trim_matches('`').to_string();
        let names: BTreeSet<String> = if cells[2] == "everything above" {
            out.keys().cloned().collect()
        } else {
            cells[2].split('`').skip(1).step_by(2).map(|s| s.split("::").next().unwrap().to_string()).collect()
        };
        out.insert(module, names);
    }
    out
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            rust_files(&e.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The `crate::X` names in a file's non-test code (everything before its `#[cfg(test)]`
/// module; comment lines are skipped).
fn imports(file: &Path, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for part in line.split("crate::").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if modules.contains(&name) {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn every_import_is_allowed_by_docs_architecture() {
    let allowed = allowed();
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .map(|m| m.trim_end_matches(';').to_string())
        })
        .collect();
    let mut problems = Vec::new();
    for m in &modules {
        let Some(ok) = allowed.get(m) else {
            problems.push(format!("src/{m}: no row in docs/architecture.md"));
            continue;
        };
        let mut files = Vec::new();
        rust_files(&root().join("src").join(m), &mut files);
        rust_files(&root().join("src").join(format!("{m}.rs")), &mut files);
        for f in files {
            for used in imports(&f, &modules) {
                if &used != m && !ok.contains(&used) {
                    problems.push(format!(
                        "{} imports crate::{used}, which docs/architecture.md does not allow",
                        f.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn exec_stays_a_leaf() {
    // The runner knows nothing about presentation (shell) or what it runs (facts).
    assert!(allowed()["exec"].is_empty());
}
