//! Finding the sessions on this machine: each listens on the abstract unix socket
//! `@underhood/<pid>`, and /proc/net/unix lists the abstract names of the reader's
//! network namespace with a leading `@` (unix(7), proc(5)).

use std::path::Path;

/// The `__SO_ACCEPTCON` bit of the Flags column: a listening socket. Accepted
/// connections carry the listener's name too, so only this bit tells them apart.
const ACCEPTCON: u32 = 0x0001_0000;

/// Pids of the listening `@underhood/<pid>` sockets in the text of /proc/net/unix
/// (`Num RefCount Protocol Flags Type St Inode Path`), each once, in order.
pub fn parse_net_unix(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(flags), Some(path)) = (f.get(3), f.get(7)) else {
            continue;
        };
        let listening = u32::from_str_radix(flags, 16).is_ok_and(|v| v & ACCEPTCON != 0);
        let pid = path
            .strip_prefix("@underhood/")
            .and_then(|p| p.parse::<u32>().ok());
        if let (true, Some(pid)) = (listening, pid)
            && !out.contains(&pid)
        {
            out.push(pid);
        }
    }
    out
}

/// When the process started, in clock ticks after boot (proc(5) /proc/pid/stat field
/// 22); `None` once it is gone.
fn start_ticks(proc_root: &Path, pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the command: field 3 (state) is the first; field 22 the twentieth.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The running sessions' pids, newest first.
pub fn sessions(proc_root: &Path) -> std::io::Result<Vec<u32>> {
    let path = proc_root.join("net/unix");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut live: Vec<(u64, u32)> = parse_net_unix(&text)
        .into_iter()
        .filter_map(|pid| start_ticks(proc_root, pid).map(|t| (t, pid)))
        .collect();
    live.sort_by(|a, b| b.cmp(a));
    Ok(live.into_iter().map(|(_, pid)| pid).collect())
}

/// The owner of a process (its /proc directory's uid, proc(5)); `None` once gone.
pub fn owner(proc_root: &Path, pid: u32) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(proc_root.join(pid.to_string()))
        .ok()
        .map(|m| m.uid())
}

/// The running sessions of user `uid`, newest first: another user's session is theirs
/// to follow, not ours to attach to by default.
pub fn sessions_of(proc_root: &Path, uid: u32) -> std::io::Result<Vec<u32>> {
    Ok(sessions(proc_root)?
        .into_iter()
        .filter(|pid| owner(proc_root, *pid) == Some(uid))
        .collect())
}

/// One session as `underhood notes` lists it: pid, and what its first position said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub pid: u32,
    /// "lesson uts, step 2/4", or "the whole walk, step 3/12"; `None` when it said
    /// nothing in time.
    pub at: Option<String>,
    /// It follows another session (one of the audience, not a presenter).
    pub follows: bool,
}

impl Candidate {
    pub fn from_position(pid: u32, p: Option<&super::Position>) -> Candidate {
        Candidate {
            pid,
            at: p.map(|p| {
                let what = match p.lesson_id() {
                    Some(id) => format!("lesson {id}"),
                    None => "the whole walk".to_string(),
                };
                format!("{what}, step {}/{}", p.done, p.of)
            }),
            follows: p.is_some_and(|p| p.following.is_some()),
        }
    }

    pub fn line(&self, n: usize) -> String {
        let mut l = format!("  {n}) session {}", self.pid);
        if let Some(at) = &self.at {
            l.push_str(&format!(": {at}"));
        }
        if self.follows {
            l.push_str(" (follows another session)");
        }
        l
    }
}

/// The sessions worth offering, presenters first (newest first among each).
pub fn offered(mut c: Vec<Candidate>) -> Vec<Candidate> {
    c.sort_by_key(|c| c.follows);
    c
}

/// The answer to "follow which? [1]": an index into the list; empty is the first.
pub fn choice(answer: &str, count: usize) -> Option<usize> {
    let a = answer.trim();
    if a.is_empty() {
        return (count > 0).then_some(0);
    }
    a.parse::<usize>()
        .ok()
        .filter(|n| (1..=count).contains(n))
        .map(|n| n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_offers_presenters_first_and_reads_the_choice() {
        let c = offered(vec![
            Candidate {
                pid: 30,
                at: Some("lesson uts, step 1/2".into()),
                follows: true,
            },
            Candidate {
                pid: 20,
                at: None,
                follows: false,
            },
        ]);
        assert_eq!(c[0].pid, 20);
        assert_eq!(
            c[1].line(2),
            "  2) session 30: lesson uts, step 1/2 (follows another session)"
        );
        assert_eq!(choice("", 2), Some(0));
        assert_eq!(choice(" 2\n", 2), Some(1));
        assert_eq!(choice("3", 2), None);
        assert_eq!(choice("x", 2), None);
    }

    #[test]
    fn another_users_session_is_not_ours() {
        let me = nix::unistd::geteuid().as_raw();
        let pid = std::process::id();
        assert_eq!(owner(Path::new("/proc"), pid), Some(me));
        // /proc/1 belongs to root: as root it is ours, as anyone else it is not.
        assert_eq!(owner(Path::new("/proc"), 1) == Some(me), me == 0);
    }

    /// Captured on this machine (`grep -e underhood -e tmux -e ^Num /proc/net/unix`)
    /// with two sessions running (pids 14818 and 15049), a client connected to the
    /// first (the two `03` lines: an accepted socket carries the listener's name), plus
    /// tmux's socket, an unnamed one and two made-up names.
    const NET_UNIX: &str = "\
Num       RefCount Protocol Flags    Type St Inode Path
00000000d5f7f4c6: 00000002 00000000 00010000 0001 01 1642462 /tmp/tmux-0/default
000000008be71d48: 00000003 00000000 00000000 0001 03 1645879 @underhood/14818
000000006186ab2d: 00000002 00000000 00000000 0001 03 1642386 @underhood/14818
000000006e973c30: 00000002 00000000 00010000 0001 01 1642384 @underhood/14818
00000000941c8da6: 00000002 00000000 00010000 0001 01 1643877 @underhood/15049
00000000772783c5: 00000003 00000000 00000000 0001 03 1623110
0000000011aa22bb: 00000002 00000000 00010000 0001 01 1703999 @underhood/notapid
0000000011aa22bc: 00000002 00000000 00010000 0001 01 1704000 @other/7
";

    #[test]
    fn listening_underhood_sockets_only() {
        assert_eq!(parse_net_unix(NET_UNIX), vec![14818, 15049]);
        assert_eq!(parse_net_unix(""), Vec::<u32>::new());
    }

    #[test]
    fn sessions_are_the_live_ones_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("net")).unwrap();
        std::fs::write(root.join("net/unix"), NET_UNIX).unwrap();
        let stat = |pid: u32, start: u64| {
            std::fs::create_dir_all(root.join(pid.to_string())).unwrap();
            let fields: Vec<String> = (3..=21).map(|i| i.to_string()).collect();
            std::fs::write(
                root.join(format!("{pid}/stat")),
                format!("{pid} (underhood x) {} {start} 0 0\n", fields.join(" ")),
            )
            .unwrap();
        };
        stat(14818, 900);
        stat(15049, 100);
        assert_eq!(sessions(root).unwrap(), vec![14818, 15049]);
        // A session whose process is gone is not listed.
        std::fs::remove_dir_all(root.join("14818")).unwrap();
        assert_eq!(sessions(root).unwrap(), vec![15049]);
    }
}
