//! What made a container: our session records and cgroup names, the engines' cgroup
//! names, the low-level runtimes' state directories, a bare unshare(1). See the parent
//! module's docs for the order in which they are asked.

use std::path::{Path, PathBuf};

use super::ProcEntry;
/// What made a container, as far as can be told.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Maker {
    /// One of our sessions (`underhood-<session>`).
    Underhood {
        session: String,
    },
    Docker {
        id: String,
    },
    Podman {
        id: String,
    },
    Containerd {
        id: String,
    },
    /// A Kubernetes pod (kubepods cgroup); the engine underneath is not named there.
    Kubernetes {
        id: String,
    },
    Runc {
        id: String,
    },
    Crun {
        id: String,
    },
    /// unshare(1) from a shell: the first process is `unshare` (with `--fork`, its
    /// child is PID 1), or the program it exec'd (without `--fork`), told by the `_`
    /// that bash put in its environment ([`ran_by_shell`]).
    Unshare,
    /// Nothing tells: a program that called clone(2)/unshare(2) itself.
    Unknown,
}

impl Maker {
    /// A short name for a table column.
    pub fn name(&self) -> &'static str {
        match self {
            Maker::Underhood { .. } => "underhood",
            Maker::Docker { .. } => "docker",
            Maker::Podman { .. } => "podman",
            Maker::Containerd { .. } => "containerd",
            Maker::Kubernetes { .. } => "kubernetes",
            Maker::Runc { .. } => "runc",
            Maker::Crun { .. } => "crun",
            Maker::Unshare => "unshare",
            Maker::Unknown => "unknown",
        }
    }

    /// The id the maker knows it by, if any (shortened to 12 characters like `docker ps`).
    pub fn id(&self) -> Option<&str> {
        match self {
            Maker::Underhood { session: id }
            | Maker::Docker { id }
            | Maker::Podman { id }
            | Maker::Containerd { id }
            | Maker::Kubernetes { id }
            | Maker::Runc { id }
            | Maker::Crun { id } => Some(id),
            Maker::Unshare | Maker::Unknown => None,
        }
    }

    /// `docker 3f2a9c1b7e44`, `runc demo`, `unshare`: a long hex id is cut to 12
    /// characters as `docker ps` does, a name is kept whole.
    pub fn label(&self) -> String {
        match self.id() {
            Some(id) if id.len() > 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                format!("{} {}", self.name(), &id[..12])
            }
            Some(id) => format!("{} {id}", self.name()),
            None => self.name().to_string(),
        }
    }
}

/// The part of a cgroup path component after `prefix` and before `.scope`, if it starts so.
fn id_after<'a>(component: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = component.strip_prefix(prefix)?;
    let id = rest.strip_suffix(".scope").unwrap_or(rest);
    (!id.is_empty()).then_some(id)
}

/// Tells the maker from one cgroup path (`/docker/<id>`, `/system.slice/docker-<id>.scope`,
/// `/machine.slice/libpod-<id>.scope`, `/underhood-<sid>`...). `ours` is our cgroup prefix.
pub fn maker_from_cgroup(path: &str, ours: &str) -> Option<Maker> {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let ours_dash = format!("{ours}-");
    for (i, c) in parts.iter().enumerate() {
        // Our sessions are 8 hex digits (runtime/state.rs): `underhood-demo` is not ours.
        if let Some(id) = id_after(c, &ours_dash)
            && id.len() == 8
            && id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Some(Maker::Underhood {
                session: id.to_string(),
            });
        }
        if let Some(id) = id_after(c, "docker-") {
            return Some(Maker::Docker { id: id.to_string() });
        }
        if *c == "docker"
            && let Some(id) = parts.get(i + 1)
        {
            return Some(Maker::Docker { id: id.to_string() });
        }
        if let Some(id) = id_after(c, "libpod-conmon-").or_else(|| id_after(c, "libpod-")) {
            return Some(Maker::Podman { id: id.to_string() });
        }
        if let Some(id) = id_after(c, "cri-containerd-") {
            return Some(Maker::Containerd { id: id.to_string() });
        }
    }
    if parts.iter().any(|c| c.starts_with("kubepods")) {
        let id = parts
            .last()
            .map_or("", |c| c.rsplit(':').next().unwrap_or(c));
        return Some(Maker::Kubernetes { id: id.to_string() });
    }
    if parts.iter().any(|c| c.contains("containerd")) {
        let id = parts.last().copied().unwrap_or("");
        return Some(Maker::Containerd { id: id.to_string() });
    }
    None
}

/// A container a runtime's state directory records: its id and its init's host pid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuntimeState {
    pub maker: Maker,
    pub pid: i32,
    /// Its start time when recorded (runc's `init_process_start`), to tell a reused pid.
    pub start_time: Option<u64>,
}

/// runc's `state.json`: `init_process_pid` and `init_process_start` (libcontainer's State).
pub fn parse_runc_state(text: &str) -> Option<(i32, Option<u64>)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let pid = i32::try_from(v.get("init_process_pid")?.as_i64()?).ok()?;
    Some((pid, v.get("init_process_start").and_then(|s| s.as_u64())))
}

/// crun's `status` file: a JSON object whose `pid` is the container's init.
pub fn parse_crun_status(text: &str) -> Option<i32> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    i32::try_from(v.get("pid")?.as_i64()?).ok()
}

/// Our `state.json` (`runtime/state.rs`): the session id and every subject's pid and start.
pub fn parse_ours_state(text: &str) -> Option<(String, Vec<(i32, u64)>)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let sid = v.get("session_id")?.as_str()?.to_string();
    let subjects = v
        .get("subjects")?
        .as_array()?
        .iter()
        .filter_map(|s| {
            let pid = i32::try_from(s.get("pid")?.as_i64()?).ok()?;
            Some((pid, s.get("start_time")?.as_u64()?))
        })
        .collect();
    Some((sid, subjects))
}

/// Where the runtimes keep their state on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// runc `--root` directories: `/run/runc` (runc's default as root), Docker's and
    /// containerd's own.
    pub runc_roots: Vec<PathBuf>,
    /// crun `--root` directories: `/run/crun`.
    pub crun_roots: Vec<PathBuf>,
    /// Our state directory (`Paths::state_dir`).
    pub ours_state_dir: PathBuf,
    /// Our cgroup and session prefix (`paths::PREFIX`).
    pub ours_prefix: String,
}

impl Sources {
    /// The usual places on a host, with our state directory.
    pub fn host(ours_state_dir: &Path, ours_prefix: &str) -> Sources {
        let mut runc_roots = vec![
            PathBuf::from("/run/runc"),
            PathBuf::from("/run/docker/runtime-runc/moby"),
        ];
        // containerd keeps one root per namespace: /run/containerd/runc/<namespace>/.
        if let Ok(rd) = std::fs::read_dir("/run/containerd/runc") {
            runc_roots.extend(rd.flatten().map(|e| e.path()));
        }
        if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR") {
            runc_roots.push(PathBuf::from(&xdg).join("runc"));
        }
        Sources {
            runc_roots,
            crun_roots: vec![PathBuf::from("/run/crun")],
            ours_state_dir: ours_state_dir.to_path_buf(),
            ours_prefix: ours_prefix.to_string(),
        }
    }
}

/// Reads every state record the sources hold. Unreadable ones are skipped: a directory we
/// may not read (rootless) simply tells nothing.
pub fn runtime_states(sources: &Sources) -> Vec<RuntimeState> {
    let mut out = Vec::new();
    let subdirs = |root: &Path| -> Vec<(String, PathBuf)> {
        std::fs::read_dir(root)
            .map(|rd| {
                rd.flatten()
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                    .collect()
            })
            .unwrap_or_default()
    };
    for root in &sources.runc_roots {
        for (id, dir) in subdirs(root) {
            let text = std::fs::read_to_string(dir.join("state.json")).unwrap_or_default();
            if let Some((pid, start_time)) = parse_runc_state(&text) {
                out.push(RuntimeState {
                    maker: Maker::Runc { id },
                    pid,
                    start_time,
                });
            }
        }
    }
    for root in &sources.crun_roots {
        for (id, dir) in subdirs(root) {
            let text = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
            if let Some(pid) = parse_crun_status(&text) {
                out.push(RuntimeState {
                    maker: Maker::Crun { id },
                    pid,
                    start_time: None,
                });
            }
        }
    }
    for (_, dir) in subdirs(&sources.ours_state_dir) {
        let text = std::fs::read_to_string(dir.join("state.json")).unwrap_or_default();
        if let Some((session, subjects)) = parse_ours_state(&text) {
            for (pid, start) in subjects {
                out.push(RuntimeState {
                    maker: Maker::Underhood {
                        session: session.clone(),
                    },
                    pid,
                    start_time: Some(start),
                });
            }
        }
    }
    out
}

/// Tells what made the container whose first process is `first` (see the module docs for
/// the order). `entries` gives the parent; `states` the runtimes' records.
pub fn maker_of(
    first: &ProcEntry,
    entries: &[ProcEntry],
    states: &[RuntimeState],
    ours_prefix: &str,
) -> Maker {
    let recorded = |want: fn(&Maker) -> bool| {
        states
            .iter()
            .filter(|s| want(&s.maker) && s.pid == first.pid)
            .find(|s| s.start_time.is_none_or(|t| t == first.start_time))
            .map(|s| s.maker.clone())
    };
    if let Some(m) = recorded(|m| matches!(m, Maker::Underhood { .. })) {
        return m;
    }
    if let Some(m) = first
        .cgroup
        .iter()
        .find_map(|l| maker_from_cgroup(&l.path, ours_prefix))
    {
        return m;
    }
    if let Some(m) = recorded(|m| matches!(m, Maker::Runc { .. } | Maker::Crun { .. })) {
        return m;
    }
    let is_unshare = |e: &ProcEntry| {
        e.comm == "unshare"
            || e.cmdline
                .as_ref()
                .and_then(|a| a.first())
                .is_some_and(|a0| a0.rsplit('/').next() == Some("unshare"))
    };
    let parent = entries.iter().find(|e| e.pid == first.ppid);
    if is_unshare(first) || parent.is_some_and(is_unshare) {
        return Maker::Unshare;
    }
    Maker::Unknown
}

/// The command a shell said it ran, from the text of `/proc/<pid>/environ` (the
/// environment handed to execve(2), NUL-separated, proc(5)): bash puts the full path
/// of each command it runs in `_` of that command's environment (bash(1), "Special
/// Parameters"). unshare(1) without `--fork` execs its program with its own
/// environment, so that program's `_` still names unshare: the one trace it leaves,
/// as the exec replaced its comm and cmdline. dash and busybox sh set no `_` (the one
/// inherited names whatever ran them), so there nothing is told.
pub fn ran_by_shell(environ: &[u8]) -> Option<&str> {
    environ
        .split(|b| *b == 0)
        .find_map(|e| e.strip_prefix(b"_="))
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// [`Maker::Unshare`] when the environment's `_` ([`ran_by_shell`]) is an unshare.
pub fn maker_from_environ(environ: &[u8]) -> Option<Maker> {
    ran_by_shell(environ)
        .filter(|path| path.rsplit('/').next() == Some("unshare"))
        .map(|_| Maker::Unshare)
}
