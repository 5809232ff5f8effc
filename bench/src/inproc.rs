//! Running `roadrunner-bench-inproc` (the in-process figures) pinned to the
//! server's core, and reading its report.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use roadrunner_bench::inproc_report::InProc;

use crate::pin;

/// The companion binary's name; cargo builds it beside `roadrunner-bench`.
const NAME: &str = "roadrunner-bench-inproc";

/// Measured seconds per figure with `--quick` (the binary's default is 2.5).
const QUICK_SECS: &str = "1";

/// Finds the companion next to this binary.
pub fn find(self_exe: &Path) -> Result<PathBuf, String> {
    let path = self_exe.with_file_name(NAME);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found; build it with `cargo build --release -p roadrunner-bench`",
            path.display()
        ))
    }
}

/// How to run it.
pub struct InProcCommand<'a> {
    pub exe: &'a Path,
    pub cpu: usize,
    pub pdeathsig: bool,
    pub quick: bool,
}

impl InProcCommand<'_> {
    fn args(&self) -> &'static [&'static str] {
        if self.quick {
            &["--secs", QUICK_SECS]
        } else {
            &[]
        }
    }

    /// The command line as shown in reports.
    pub fn display(&self) -> String {
        let mut words = vec![format!("taskset -c {}", self.cpu), NAME.to_string()];
        words.extend(self.args().iter().map(|a| a.to_string()));
        words.join(" ")
    }

    /// Runs it (progress through to stderr) and parses what it printed.
    pub fn run(&self) -> Result<InProc, String> {
        let mut cmd = pin::pinned_command(self.cpu, self.pdeathsig);
        cmd.arg(self.exe).args(self.args());
        eprintln!("[inproc] running {cmd:?}");
        let out = cmd
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        if !out.status.success() {
            return Err(format!("{NAME} failed ({})", out.status));
        }
        InProc::parse(&String::from_utf8_lossy(&out.stdout)).map_err(|e| format!("{NAME}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let cmd = InProcCommand {
            exe: Path::new("/x/roadrunner-bench-inproc"),
            cpu: 0,
            pdeathsig: true,
            quick: true,
        };
        assert_eq!(
            cmd.display(),
            "taskset -c 0 roadrunner-bench-inproc --secs 1"
        );
    }

    #[test]
    fn missing_companion_is_a_clear_error() {
        let e = find(Path::new("/nonexistent/roadrunner-bench")).unwrap_err();
        assert!(
            e.contains("cargo build --release -p roadrunner-bench"),
            "{e}"
        );
    }
}
