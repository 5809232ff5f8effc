//! Starting commands pinned to one core (`taskset`), tied to our lifetime.

use std::io::ErrorKind;
use std::process::Command;

/// `taskset -c CPU`, to be completed with the program to run. If
/// `pdeathsig` is set it is prefixed with `setpriv --pdeathsig KILL`, so the
/// kernel kills the program even if this harness is itself killed (a signal
/// the `Drop` guard cannot see). Both exec in place: the program keeps the PID.
pub fn pinned_command(cpu: usize, pdeathsig: bool) -> Command {
    let mut cmd = if pdeathsig {
        let mut c = Command::new("setpriv");
        c.args(["--pdeathsig", "KILL", "taskset"]);
        c
    } else {
        Command::new("taskset")
    };
    cmd.arg("-c").arg(cpu.to_string());
    cmd
}

/// `taskset -c CPU roadrunner-bench ARGS`: one of this binary's own client modes as
/// reports show it (without `setpriv`).
pub fn display_own(cpu: usize, args: &[String]) -> String {
    let cpu = cpu.to_string();
    let head = ["taskset", "-c", &cpu, "roadrunner-bench"].map(String::from);
    crate::shell::join(head.into_iter().chain(args.iter().cloned()))
}

/// Runs this binary (`exe`) pinned with `args`, one of its own client modes (`mode`
/// names it in errors); what it printed on stdout. Its stderr (warnings, the first
/// failure) is passed on.
pub fn run_own(
    cpu: usize,
    pdeathsig: bool,
    exe: &std::path::Path,
    args: &[String],
    mode: &str,
) -> Result<String, String> {
    let out = pinned_command(cpu, pdeathsig)
        .arg(exe)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run taskset/{mode}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{mode} failed ({}):\n{stdout}{stderr}", out.status));
    }
    eprint!("{stderr}");
    Ok(stdout)
}

/// Whether `setpriv` (util-linux, like `taskset`) supports `--pdeathsig`.
pub fn setpriv_has_pdeathsig() -> bool {
    Command::new("setpriv")
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--pdeathsig"))
}

/// Checks that `taskset` is installed.
pub fn check_taskset() -> Result<(), String> {
    match Command::new("taskset").arg("--version").output() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Err("`taskset` not found in PATH; install it (apt-get install -y util-linux)".into())
        }
        Err(e) => Err(format!("cannot run taskset: {e}")),
        Ok(_) => Ok(()),
    }
}
