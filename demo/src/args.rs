//! Command-line flags.

pub const USAGE: &str = "usage: roadrunner-demo [--port N] [--runtime tokio|smol]";

/// Which adapter serves.
#[derive(Debug, PartialEq, Eq)]
pub enum Runtime {
    Tokio,
    Smol,
}

/// The parsed flags.
#[derive(Debug)]
pub struct Args {
    pub port: u16,
    pub runtime: Runtime,
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut args = Args {
            port: 8080,
            runtime: Runtime::Tokio,
        };
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--port" => {
                    let v = value()?;
                    args.port = v.parse().map_err(|_| format!("bad port {v:?}"))?;
                }
                "--runtime" => {
                    args.runtime = match value()?.as_str() {
                        "tokio" => Runtime::Tokio,
                        "smol" => Runtime::Smol,
                        other => return Err(format!("unknown runtime {other:?}")),
                    }
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown flag {other:?}")),
            }
        }
        Ok(args)
    }
}
