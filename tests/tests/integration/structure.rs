//! The layout ARCHITECTURE.md promises: within each crate, the top-level modules depend on one
//! another without a cycle, so each can be read (and tested) after what it builds on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_owned()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file belongs to (`store` for `store/dynamodb/items.rs`), or `None`
/// for the crate root and for test-only files.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    let test_only = relative
        .iter()
        .any(|part| part.to_str().is_some_and(|p| p.starts_with("tests")));
    (!matches!(name, "lib" | "main" | "bin") && !test_only).then(|| name.to_owned())
}

/// The module path a file defines (`["store", "memory"]` for `store/memory.rs`, `["store"]`
/// for `store/mod.rs`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let mut path: Vec<String> = relative
        .iter()
        .filter_map(|part| part.to_str())
        .map(|part| part.trim_end_matches(".rs").to_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

/// The identifiers right after `prefix` at `at`: one name, or each first name of a `{…}` group.
fn names_after(code: &str, at: usize) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let rest = &code[at..];
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    // The first name of each item of the group, at its own depth: `{a::{b, c}, d}` names a, d.
    let mut names = vec![ident(group)];
    let mut depth = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => names.push(ident(&group[i + 1..])),
            _ => {}
        }
    }
    names.retain(|name| !name.is_empty());
    names
}

/// Which top-level modules each one names, through `crate::…` or through as many `super::` as
/// lead back to the crate root, outside its unit tests.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = top_module(src, &file) else {
            continue;
        };
        let to_root = "super::".repeat(module_path(src, &file).len());
        let text = std::fs::read_to_string(&file).expect("a source file");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let uses = graph.entry(module.clone()).or_default();
        for prefix in ["crate::", to_root.as_str()] {
            for (at, _) in code.match_indices(prefix) {
                // `super::super::x` from a deeper file is not the root's `x`.
                if prefix.starts_with("super") && code[..at].ends_with("super::") {
                    continue;
                }
                for name in names_after(code, at + prefix.len()) {
                    if name.starts_with(|c: char| c.is_ascii_lowercase())
                        && !matches!(name.as_str(), "super" | "self")
                        && name != module
                    {
                        uses.insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// A path from `from` back to itself, if there is one.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("a path is never empty");
        for next in graph.get(last).into_iter().flatten() {
            if next == from {
                return Some([path.clone(), vec![next.clone()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push([path.clone(), vec![next.clone()]].concat());
            }
        }
    }
    None
}

#[test]
fn no_crate_has_a_cycle_among_its_modules() {
    for krate in [
        "shared/core",
        "shared/dynamodb",
        "shared/api",
        "shared/runtime",
        "sdk",
        "cli",
        "local",
    ] {
        let graph = module_graph(&repo().join(krate).join("src"));
        assert!(graph.len() > 3, "{krate}: too few modules found: {graph:?}");
        for module in graph.keys() {
            if let Some(cycle) = cycle_through(&graph, module) {
                panic!(
                    "{krate}: modules depend on each other: {}",
                    cycle.join(" → ")
                );
            }
        }
    }
}

#[test]
fn the_graph_sees_through_super_as_well_as_crate() {
    let dir = tempfile::tempdir().expect("a folder");
    let src = dir.path();
    std::fs::create_dir(src.join("store")).expect("a folder");
    for (file, text) in [
        ("gateway.rs", "use super::upstream::Upstream;\n"),
        (
            "upstream.rs",
            "use super::{gateway, store::{Port, memory}};\n",
        ),
        ("store/mod.rs", "use super::gateway;\n"),
        (
            "store/memory.rs",
            "use super::Port;\nuse super::super::upstream;\n",
        ),
    ] {
        std::fs::write(src.join(file), text).expect("a file");
    }
    let graph = module_graph(src);
    let uses = |m: &str| graph[m].iter().cloned().collect::<Vec<_>>();
    assert_eq!(uses("gateway"), ["upstream"]);
    assert_eq!(uses("upstream"), ["gateway", "store"]);
    assert_eq!(uses("store"), ["gateway", "upstream"]);
    assert!(cycle_through(&graph, "gateway").is_some());
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("api", &["compose"][..]),
        ("compose", &["store", "api"][..]),
        ("store", &[][..]),
    ]
    .into_iter()
    .map(|(m, uses)| (m.to_owned(), uses.iter().map(|u| (*u).to_owned()).collect()))
    .collect();
    assert_eq!(
        cycle_through(&graph, "api"),
        Some(vec!["api".into(), "compose".into(), "api".into()])
    );
    assert_eq!(cycle_through(&graph, "store"), None);
}
