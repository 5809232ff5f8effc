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
