use super::*;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn explore() -> Explore {
    Explore::new(
        Explored {
            pid: 42,
            maker: "runc demo".into(),
            command: "sleep 1000".into(),
        },
        Vec::new(),
        Theme::from_env(false),
        None,
        None,
    )
}

#[test]
fn tab_walks_every_pane_and_lights_the_tui_ones() {
    let mut ex = explore();
    let screen = Rect::new(0, 0, 80, 24);
    let mut seen = vec![ex.focus];
    for _ in 0..Focus::ALL.len() {
        assert_eq!(ex.on_key(key(KeyCode::Tab), screen), Action::None);
        seen.push(ex.focus);
        assert_eq!(ex.app.focus, ex.focus.pane().unwrap_or(Pane::Step));
    }
    assert_eq!(seen.first(), seen.last());
    for f in Focus::ALL {
        assert!(seen.contains(&f), "{f:?}");
    }
    ex.on_key(key(KeyCode::BackTab), screen);
    assert_eq!(ex.focus, Focus::Security);
}

#[test]
fn keys_ask_the_driver() {
    let mut ex = explore();
    let screen = Rect::new(0, 0, 80, 24);
    assert_eq!(ex.on_key(key(KeyCode::Char('q')), screen), Action::Quit);
    assert_eq!(ex.on_key(key(KeyCode::Char('p')), screen), Action::Picker);
    ex.on_key(key(KeyCode::Char('z')), screen);
    assert!(ex.app.zoom);
    // Esc leaves the zoom first, then goes back to the list.
    assert_eq!(ex.on_key(key(KeyCode::Esc), screen), Action::None);
    assert!(!ex.app.zoom);
    assert_eq!(ex.on_key(key(KeyCode::Esc), screen), Action::Picker);
    ex.on_key(key(KeyCode::Char('?')), screen);
    assert!(ex.app.help);
    assert_eq!(ex.on_key(key(KeyCode::Char('q')), screen), Action::None);
    assert!(!ex.app.help);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(ex.on_key(ctrl_c, screen), Action::Quit);
}

#[test]
fn a_vanished_process_keeps_its_last_state_and_says_so() {
    let mut ex = explore();
    let me = std::process::id() as i32;
    let live = crate::observe::snapshot::sample(
        std::path::Path::new("/proc"),
        &crate::observe::snapshot::Target {
            subject: me,
            tree_root: me,
            cgroup: None,
            learner_below: None,
        },
        std::time::Duration::ZERO,
    );
    ex.sample(live.clone(), Err("x".into()));
    assert!(ex.gone.is_none());
    let gone = Snapshot {
        mounts: Err("ENOENT".into()),
        ..Default::default()
    };
    ex.sample(gone, Err("ENOENT".into()));
    let why = ex.gone.clone().expect("gone");
    assert!(why.contains("process 42 exited"), "{why}");
    assert_eq!(ex.app.snap.as_ref(), Some(&live));
}

#[test]
fn the_peer_shares_what_the_explored_one_shares_and_keeps_its_limits() {
    use crate::ns::Ns;
    use crate::observe::facts::Facts;
    use crate::observe::namespaces::{NsFile, NsLink};
    use crate::runtime::cgroup::ReadLimits;
    let link = NsLink::of_inode;
    let host: Vec<NsLink> = Ns::BY_FILE
        .iter()
        .enumerate()
        .map(|(i, k)| link(NsFile::of(*k), 100 + i as u64))
        .collect();
    // runc's default: new ipc, mnt, net, pid, uts; the host's cgroup, time, user.
    let mut ns = host.clone();
    for l in ns.iter_mut() {
        if matches!(
            l.kind.ns(),
            Ns::Ipc | Ns::Mount | Ns::Net | Ns::Pid | Ns::Uts
        ) {
            l.inode = l.inode.map(|i| i + 1000);
        }
    }
    let left = Facts {
        pid: 7,
        label: "runc demo".into(),
        ns,
        mounts: Ok(Vec::new()),
        security: Err("x".into()),
        cgroup: Some("/demo".into()),
        limits: Some(ReadLimits {
            memory: Some(64 << 20),
            pids: Some(32),
            cpu: Some((50_000, 100_000)),
            files: Vec::new(),
        }),
        absent: Vec::new(),
    };
    let o = compare::peer_options(&left, &host);
    let shared: Vec<&str> = o.share.iter().map(|n| n.name()).collect();
    assert_eq!(shared, vec!["cgroup", "time"]);
    assert!(!o.userns);
    assert_eq!(o.limits.memory, Some(64 << 20));
    assert_eq!(o.limits.pids, Some(32));
    assert_eq!(o.limits.cpus, Some(0.5));
    assert_eq!(o.argv[0], "sleep");
}
