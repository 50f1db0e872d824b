//! Processes of the cluster benchmark, each pinned to a CPU.

use std::process::{Child, Command, Stdio};

pub struct Proc {
    pub child: Child,
    pub url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

pub fn bin(name: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join("target/release").join(name).display().to_string()
}

/// Starts a process (pinned to `cpu` when `taskset` exists) and waits for its "listening on".
pub fn spawn(cpu: Option<&str>, program: &str, args: &[&str], env: &[(&str, String)]) -> Proc {
    use std::io::{BufRead, BufReader};
    let mut cmd = match cpu {
        Some(cpu) if Command::new("taskset").arg("--version").output().is_ok() => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu).arg(program);
            c
        }
        _ => Command::new(program),
    };
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut url = String::new();
    for line in lines.by_ref() {
        let line = line.expect("read stdout");
        if let Some(u) = line.split("listening on ").nth(1) {
            url = u.split_whitespace().next().unwrap_or_default().to_owned();
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Proc { child, url }
}
