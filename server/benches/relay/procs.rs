//! The processes the benchmark runs: the mock upstream, nginx as a plain reverse proxy and
//! Tollgate (this tree's build, and an optional baseline binary), each pinned to a CPU; and what
//! is read off them in /proc (CPU time, resident memory) for a process and its children.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    /// Where an nginx keeps its config, pid file and temp dirs.
    _dir: Option<tempfile::TempDir>,
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

impl Proc {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A release binary: from `BENCH_BIN_DIR` (where `.ci/bench` copies the binaries built without
/// the dev-dependencies' features), else target/release.
pub fn bin(name: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("BENCH_BIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/release"));
    dir.join(name).display().to_string()
}

fn command(cpu: &str, program: &str) -> Command {
    if Command::new("taskset").arg("--version").output().is_ok() {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(cpu).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Starts a process pinned to `cpu` and waits for its "listening on http://..." line.
pub fn spawn(cpu: &str, program: &str, args: &[&str], env: &[(&str, String)]) -> Proc {
    use std::io::{BufRead, BufReader};
    let mut cmd = command(cpu, program);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut url = String::new();
    for line in lines.by_ref() {
        let line = line.expect("read stdout");
        if let Some(u) = line.split("listening on ").nth(1) {
            url = u.split_whitespace().next().unwrap_or_default().to_owned();
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let addr = url
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|_| panic!("{program} printed no address: {url:?}"));
    Proc {
        child,
        addr,
        _dir: None,
    }
}

/// Debian's nginx (nginx-light, which `.ci/bench` installs): one worker, a keep-alive pool to
/// `upstream`, no access log, responses passed through unbuffered (streams), pinned to `cpu`.
pub fn start_nginx(cpu: &str, upstream: SocketAddr) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.path().display();
    let conf = format!(
        "worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  upstream mock {{ server {upstream}; keepalive 1024; keepalive_requests 10000000; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_buffering off;
    }}
  }}
}}
"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let path = path.display().to_string();
    let child = command(cpu, "nginx")
        .args(["-e", "stderr", "-p", &d.to_string(), "-c", &path])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting nginx (apt-get install nginx-light)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Proc {
        child,
        addr,
        _dir: Some(dir),
    }
}

/// The process and its descendants (nginx's worker is the master's child).
fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        let tasks = std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            out.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
        i += 1;
    }
    out
}

/// User + system CPU time of the process tree, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let ticks: u64 = tree(pid)
        .into_iter()
        .map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // Fields after the ")" that closes the command name: state is 3rd, utime 14th.
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            let get = |i: usize| {
                f.get(i - 3)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            get(14) + get(15)
        })
        .sum();
    // USER_HZ is 100 on Linux.
    ticks as f64 / 100.0
}

/// A /proc/<pid>/status memory field (`VmRSS`, `VmHWM`) summed over the tree, in MB.
pub fn mem_mb(pid: u32, field: &str) -> f64 {
    let kb: u64 = tree(pid)
        .into_iter()
        .map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/status"))
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    kb as f64 / 1024.0
}

/// Resets the peak RSS (`VmHWM`) of the tree to the current RSS, so the next read is the peak
/// of what follows (`echo 5 > /proc/<pid>/clear_refs`; needs the process's owner or root).
pub fn reset_peak(pid: u32) {
    for p in tree(pid) {
        let _ = std::fs::write(format!("/proc/{p}/clear_refs"), "5");
    }
}
