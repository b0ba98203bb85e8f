//! `usermgmt-bench-ratios`: prints the last `cargo bench -p usermgmt-benches` results as
//! Markdown tables, each benchmark's median with its ratio to the in-run baselines of its group
//! (the benchmarks whose name starts with `baseline`). On a noisy shared machine the ratios
//! travel better than the absolute times.
//!
//! Usage: `cargo run -p usermgmt-benches --bin usermgmt-bench-ratios [CRITERION_DIR]`
//! (default: `$CARGO_TARGET_DIR/criterion`, else `target/criterion`).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One benchmark's last result.
struct Result {
    name: String,
    median_ns: f64,
    low_ns: f64,
    high_ns: f64,
}

fn read_json(path: &Path) -> std::result::Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn number(value: &Value, pointer: &str, path: &Path) -> std::result::Result<f64, String> {
    value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("{} has no {pointer}", path.display()))
}

fn sorted_dirs(dir: &Path) -> std::result::Result<Vec<PathBuf>, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "report"))
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The groups under `root`, each with its benchmarks in the order they ran.
fn load(root: &Path) -> std::result::Result<Vec<(String, Vec<Result>)>, String> {
    let mut groups = Vec::new();
    for group_dir in sorted_dirs(root)? {
        let mut results = Vec::new();
        for bench_dir in sorted_dirs(&group_dir)? {
            let estimates_path = bench_dir.join("new").join("estimates.json");
            let meta_path = bench_dir.join("new").join("benchmark.json");
            if !estimates_path.is_file() || !meta_path.is_file() {
                continue;
            }
            let estimates = read_json(&estimates_path)?;
            let meta = read_json(&meta_path)?;
            let name = meta
                .get("function_id")
                .and_then(Value::as_str)
                .or_else(|| meta.get("full_id").and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned();
            let modified = std::fs::metadata(&estimates_path)
                .and_then(|m| m.modified())
                .ok();
            results.push((
                modified,
                Result {
                    name,
                    median_ns: number(&estimates, "/median/point_estimate", &estimates_path)?,
                    low_ns: number(
                        &estimates,
                        "/median/confidence_interval/lower_bound",
                        &estimates_path,
                    )?,
                    high_ns: number(
                        &estimates,
                        "/median/confidence_interval/upper_bound",
                        &estimates_path,
                    )?,
                },
            ));
        }
        if results.is_empty() {
            continue;
        }
        results.sort_by_key(|(modified, _)| *modified);
        let name = group_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        groups.push((name, results.into_iter().map(|(_, r)| r).collect()));
    }
    Ok(groups)
}

fn human(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Three significant figures: `70055×`, `15.2×`, `1.43×`, `0.0654×`, `9.24e-7×`.
fn ratio(x: f64, base: f64) -> String {
    let r = x / base;
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else if r >= 1.0 {
        format!("{r:.2}×")
    } else if r >= 1e-3 {
        // Leading zeros after the point, plus three significant digits.
        let decimals = (-r.log10()).floor() as usize + 3;
        format!("{r:.decimals$}×")
    } else {
        format!("{r:.2e}×")
    }
}

fn table(group: &str, results: &[Result]) -> String {
    let baselines: Vec<&Result> = results
        .iter()
        .filter(|r| r.name.starts_with("baseline"))
        .collect();
    let mut out = format!("\n### {group}\n\n| benchmark | median | 95% CI of median |");
    for b in &baselines {
        out.push_str(&format!(" ÷ `{}` |", b.name));
    }
    out.push_str("\n|---|---:|---:|");
    out.push_str(&"---:|".repeat(baselines.len()));
    for r in results {
        out.push_str(&format!(
            "\n| `{}` | {} | {} – {} |",
            r.name,
            human(r.median_ns),
            human(r.low_ns),
            human(r.high_ns)
        ));
        for b in &baselines {
            out.push_str(&format!(" {} |", ratio(r.median_ns, b.median_ns)));
        }
    }
    out.push('\n');
    out
}

fn main() -> ExitCode {
    let root = std::env::args_os().nth(1).map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                .join("criterion")
        },
        PathBuf::from,
    );
    match load(&root) {
        Ok(groups) if groups.is_empty() => {
            eprintln!(
                "no results under {}: run `cargo bench -p usermgmt-benches` first",
                root.display()
            );
            ExitCode::FAILURE
        }
        Ok(groups) => {
            for (group, results) in groups {
                print!("{}", table(&group, &results));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("usermgmt-bench-ratios: {e}");
            ExitCode::FAILURE
        }
    }
}
