//! The README's commands work from a fresh clone as written, and CI runs the fuzz
//! command exactly as the README gives it. (The README's Rust examples are doctests of
//! `roadrunner-tests`; the demo command is run by `tests/demo.rs`.)

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines of the README's `sh` code blocks, with the heading of the section each
/// is under.
fn sh_commands(readme: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut in_sh = false;
    let mut out = Vec::new();
    for line in readme.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.to_owned();
        } else if line == "```sh" {
            in_sh = true;
        } else if line.starts_with("```") {
            in_sh = false;
        } else if in_sh && !line.trim().is_empty() {
            out.push((section.clone(), line.to_owned()));
        }
    }
    out
}

fn fuzz_command() -> String {
    let cmds: Vec<String> = sh_commands(&read("README.md"))
        .into_iter()
        .filter(|(_, c)| c.contains("cargo fuzz run"))
        .map(|(_, c)| c)
        .collect();
    assert_eq!(cmds.len(), 1, "one fuzz command in the README: {cmds:?}");
    cmds[0].clone()
}

#[test]
fn set_up_gives_two_commands() {
    let set_up: Vec<String> = sh_commands(&read("README.md"))
        .into_iter()
        .filter(|(s, _)| s.starts_with("Set up"))
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        set_up,
        [
            "cargo run --release -p roadrunner-demo -- --port 8080 --runtime tokio",
            "cargo test --workspace",
        ]
    );
}

/// libFuzzer refuses a corpus directory that does not exist, and `fuzz/corpus` is
/// ignored by git: each directory the command names must be committed, or made by
/// the command itself before the fuzzer starts.
#[test]
fn the_fuzz_command_needs_no_directory_a_clone_lacks() {
    let cmd = fuzz_command();
    let steps: Vec<&str> = cmd.split("&&").map(str::trim).collect();
    assert_eq!(steps[0], "cd fuzz", "{cmd}");
    let run = steps
        .iter()
        .position(|s| s.contains("cargo fuzz run"))
        .expect("a cargo fuzz run step");
    let made: Vec<&str> = steps[..run]
        .iter()
        .filter_map(|s| s.strip_prefix("mkdir -p "))
        .flat_map(str::split_whitespace)
        .collect();
    let args: Vec<&str> = steps[run]
        .split_once("cargo fuzz run ")
        .expect("cargo fuzz run")
        .1
        .split(" -- ")
        .next()
        .expect("the arguments before --")
        .split_whitespace()
        .collect();
    let (target, dirs) = args.split_first().expect("a target");
    assert_eq!(*target, "h1_request");
    assert!(!dirs.is_empty(), "{cmd}: no corpus directory");
    // The repository's ignore patterns are plain anchored paths (`/fuzz/corpus`).
    let ignored: Vec<String> = read(".gitignore")
        .lines()
        .map(|l| l.trim().trim_end_matches('/').to_owned())
        .filter(|l| l.starts_with('/'))
        .collect();
    for dir in dirs {
        if made.contains(dir) {
            continue;
        }
        let path = format!("/fuzz/{}", dir.trim_end_matches('/'));
        let is_ignored = ignored
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")));
        assert!(
            !is_ignored && root().join("fuzz").join(dir).is_dir(),
            "{cmd}: {dir} is neither committed nor made by the command"
        );
    }
    let dict = steps[run]
        .split_whitespace()
        .find_map(|a| a.strip_prefix("-dict="))
        .expect("a dictionary");
    assert!(root().join("fuzz").join(dict).is_file(), "{dict}");
}

#[test]
fn ci_runs_the_readme_s_fuzz_command_exactly() {
    let cmd = fuzz_command();
    let readme = read("README.md");
    let appended = " -max_total_time=30";
    assert!(
        readme.contains(&format!("` {}` appended", appended.trim())),
        "the README says what CI appends"
    );
    let ci = read(".ci/run");
    let runs: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("cargo fuzz run h1_request"))
        .collect();
    assert_eq!(runs, [format!("{cmd}{appended}")]);
}
