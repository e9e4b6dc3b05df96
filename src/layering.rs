//! The top-level modules form a line from the options down to the run: none imports, directly or
//! through others, a module that imports it. A lower layer takes the settings it needs as its own small
//! types (`supervise::Plan`, `lock::Wanted`), built by `run` from the resolved job.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Each top-level module and the top-level modules its code (tests aside) names as `crate::NAME`.
    fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut stack = vec![src.to_path_buf()];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let top = first.to_string_lossy().trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let used = graph.entry(top.clone()).or_default();
            for piece in code.split("crate::").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    used.insert(name);
                }
            }
        }
        graph
    }

    fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(module) = todo.pop() {
            for next in graph.get(&module).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        false
    }

    #[test]
    fn no_module_imports_one_that_imports_it() {
        let graph = imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        assert!(graph.contains_key("config") && graph.contains_key("supervise"));
        let cycles: Vec<String> = graph
            .iter()
            .flat_map(|(from, used)| used.iter().map(move |to| (from, to)))
            .filter(|(from, to)| reaches(&graph, to, from))
            .map(|(from, to)| format!("{from} -> {to}"))
            .collect();
        assert!(cycles.is_empty(), "imports that close a cycle: {cycles:?}");
    }

    #[test]
    fn a_cycle_is_found() {
        let mut graph = BTreeMap::new();
        graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
        graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
        graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
        assert!(reaches(&graph, "b", "a"));
        assert!(!reaches(&graph, "a", "d"));
    }
}
