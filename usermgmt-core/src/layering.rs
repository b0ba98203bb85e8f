//! Checks that the layers of docs/ARCHITECTURE.md point one way: no module of core imports
//! itself through a chain of others, and only the HTTP-facing files import the API machinery.
//! Read from the sources at test time, so a new file is covered without listing it.
//!
//! A module is a file; an import is any `crate::a::b` or `super::a` path outside its
//! `#[cfg(test)]` block (a `use`, a qualified call, a type). A module's own submodules are not
//! imports of it, and test code (`testing/`, `cases/`) is outside the graph: it sits above
//! everything it checks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`["auth", "routes"]`) → its source.
fn modules() -> BTreeMap<Vec<String>, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable folder") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(&src)
                .expect("under src")
                .with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            found.insert(parts, text);
        }
    }
    found
}

fn is_test_code(module: &[String]) -> bool {
    module.iter().any(|p| p == "testing" || p == "cases")
        || module.last().is_some_and(|p| p == "layering")
}

/// The source without its trailing `#[cfg(test)] mod … { … }` block (they end the file here).
fn without_tests(text: &str) -> &str {
    let mut rest = text;
    let mut offset = 0;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = rest[at + 12..].trim_start();
        if after.starts_with("mod ") || after.starts_with("pub(crate) mod ") {
            return &text[..offset + at];
        }
        offset += at + 12;
        rest = &rest[at + 12..];
    }
    text
}

/// The longest known module a path names (`["store", "records", "UserRecord"]` →
/// `["store", "records"]`).
fn resolve(path: &[String], known: &BTreeMap<Vec<String>, String>) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|candidate| known.contains_key(candidate))
        .unwrap_or_default()
}

/// The paths after `prefix` in `text`, braces expanded one level (`crate::a::{b, c::d}`).
fn paths_after(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &text[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let base: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if rest[end..].starts_with('{') && (end == 0 || rest[..end].ends_with("::")) {
            let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |i| end + i)];
            for item in group.split(',') {
                let item = item.split(" as ").next().unwrap_or_default().trim();
                let mut path = base.clone();
                path.extend(
                    item.split("::")
                        .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
                        .map(str::to_owned),
                );
                paths.push(path);
            }
        }
        paths.push(base);
    }
    paths
}

/// Module → the modules it imports.
fn imports() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known = modules();
    let mut graph = BTreeMap::new();
    for (module, text) in &known {
        if is_test_code(module) {
            continue;
        }
        // Comments name modules without importing them.
        let code: String = without_tests(text)
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let text = code.as_str();
        let mut targets = BTreeSet::new();
        for path in paths_after(text, "crate::") {
            targets.insert(resolve(&path, &known));
        }
        let parent = &module[..module.len().saturating_sub(1)];
        for path in paths_after(text, "super::") {
            let mut full = parent.to_vec();
            full.extend(path);
            targets.insert(resolve(&full, &known));
        }
        targets.retain(|t| {
            // Nothing, itself, or one of its own submodules (declared, not imported).
            !t.is_empty() && t != module && !(t.len() > module.len() && t.starts_with(module))
        });
        graph.insert(module.clone(), targets);
    }
    graph
}

/// The modules that reach themselves again, each with the chain that does it.
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<String> {
    let mut found = Vec::new();
    for start in graph.keys() {
        // Breadth-first from `start`, remembering how each module was reached.
        let mut came_from: BTreeMap<&Vec<String>, &Vec<String>> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(module) = queue.pop_front() {
            for next in graph.get(module).into_iter().flatten() {
                if next == start {
                    let mut chain = vec![start.join("::"), module.join("::")];
                    let mut at = module;
                    while let Some(previous) = came_from.get(at) {
                        chain.insert(1, previous.join("::"));
                        at = previous;
                    }
                    chain.dedup();
                    found.push(format!("{} -> {}", chain.join(" -> "), start.join("::")));
                    queue.clear();
                    break;
                }
                if next != start && !came_from.contains_key(next) && graph.contains_key(next) {
                    came_from.insert(next, module);
                    queue.push_back(next);
                }
            }
        }
    }
    found
}

#[test]
fn no_module_imports_itself_through_others() {
    let graph = imports();
    assert!(
        graph.len() > 80,
        "the sources are found ({} modules)",
        graph.len()
    );
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn only_the_http_facing_files_import_the_api() {
    let graph = imports();
    // The console is HTTP-facing as a whole: every file of it is pages, route rows and their
    // handlers (it has no service or store of its own).
    let http_facing = |module: &Vec<String>| {
        module
            .first()
            .is_some_and(|p| p == "api" || p == "capabilities" || p == "dto" || p == "console")
            || module.last().is_some_and(|p| p == "routes")
    };
    let offenders: Vec<String> = graph
        .iter()
        .filter(|(module, targets)| {
            !http_facing(module)
                && targets
                    .iter()
                    .any(|t| t.first().is_some_and(|p| p == "api"))
        })
        .map(|(module, _)| module.join("::"))
        .collect();
    assert!(offenders.is_empty(), "import the API: {offenders:?}");
}

#[test]
fn the_api_machinery_names_no_capability_route() {
    let graph = imports();
    let offenders: Vec<String> = graph
        .iter()
        .filter(|(module, _)| module.first().is_some_and(|p| p == "api"))
        .flat_map(|(module, targets)| {
            targets
                .iter()
                .filter(|t| {
                    let foreign_routes = t.last().is_some_and(|p| p == "routes")
                        && t.first().is_some_and(|p| p != "api");
                    foreign_routes || t.first().is_some_and(|p| p == "capabilities" || p == "dto")
                })
                .map(move |t| format!("{} -> {}", module.join("::"), t.join("::")))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "api/ reaches into capabilities: {offenders:?}"
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    let a = vec!["a".to_owned()];
    let b = vec!["b".to_owned()];
    let graph = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(cycles(&graph).len(), 2);
    let known = BTreeMap::from([(a.clone(), String::new()), (b.clone(), String::new())]);
    assert_eq!(
        paths_after("use crate::{a::x, b::y}; crate::a::{z};", "crate::")
            .iter()
            .map(|p| resolve(p, &known))
            .filter(|m| !m.is_empty())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([a, b]),
    );
}
