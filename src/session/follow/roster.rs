//! The class, as data: who has said hello, where each learner is, who is gone and
//! why. Pure: the session applies each line a connection sends ([`Roster::said`]) and
//! acts on the verdict (answer, close, tell the watchers); `underhood class` applies
//! the entries the session sends ([`Roster::absorb`]) and counts ([`Roster::counts`]).
//!
//! Bounded whatever the peers do: at most [`MAX_LEARNERS`] learners present (the next
//! is refused with the reason, and goes on following), at most [`MAX_GONE`] gone ones
//! remembered, lines of at most `learner::MAX_LINE` bytes, at most [`BURST`] lines in
//! a burst and [`RATE`] a second after it; a line that breaks a rule drops that
//! learner, with the rule in the reason, and nobody else.

use super::learner::{self, Entry, LineError, Progress, Said};

/// The most learners present at once. The publisher serves `publish::MAX_CLIENTS`
/// connections; the rest is room for `underhood notes` and `underhood class` windows.
pub const MAX_LEARNERS: usize = 60;
/// Gone learners remembered (the oldest is forgotten first).
pub const MAX_GONE: usize = 60;
/// A learner silent this long is gone: three of its heartbeats.
pub const SILENCE_MS: u64 = 3 * super::publish::HEARTBEAT.as_millis() as u64;
/// Lines a learner may send at once, and then a second (a catch-up over a dozen steps
/// sends about two per step).
pub const BURST: f64 = 64.0;
pub const RATE: f64 = 16.0;

/// One learner, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learner {
    pub entry: Entry,
    /// When we last heard from them (ms, the caller's clock).
    pub heard_ms: u64,
}

/// What one connection is to the class.
#[derive(Debug, Clone, PartialEq)]
enum Role {
    /// Has said nothing yet (a follower of before the class protocol stays so).
    Quiet,
    Learner {
        id: u64,
        tokens: f64,
        at_ms: u64,
    },
    Watcher,
    /// Refused (the class was full): following goes on, what it says is ignored.
    Refused,
}

/// What the session is to do after a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing changed (a heartbeat, a refused follower's line).
    Nothing,
    /// This learner's entry changed: tell the watchers.
    Changed(u64),
    /// Say this to the connection (`Told::Class { refused }`) and keep it following.
    Refuse(String),
    /// Close this connection with this reason; a learner's entry (if it was one) is
    /// now gone and changed.
    Drop(Option<u64>, String),
    /// The connection watches the class: send it every entry, then each change.
    Watch,
}

#[derive(Debug, Default, Clone)]
pub struct Roster {
    learners: Vec<Learner>,
    next_id: u64,
    /// Connection id -> role, for the session's side.
    conns: Vec<(u64, Role)>,
}

impl Roster {
    pub fn learners(&self) -> &[Learner] {
        &self.learners
    }

    pub fn entry(&self, id: u64) -> Option<&Entry> {
        self.learners
            .iter()
            .find(|l| l.entry.id == id)
            .map(|l| &l.entry)
    }

    /// Learners present (not gone).
    pub fn present(&self) -> usize {
        self.learners
            .iter()
            .filter(|l| l.entry.gone.is_none())
            .count()
    }

    fn role(&mut self, conn: u64) -> &mut Role {
        let i = match self.conns.iter().position(|(c, _)| *c == conn) {
            Some(i) => i,
            None => {
                self.conns.push((conn, Role::Quiet));
                self.conns.len() - 1
            }
        };
        &mut self.conns[i].1
    }

    fn learner_mut(&mut self, id: u64) -> Option<&mut Learner> {
        self.learners.iter_mut().find(|l| l.entry.id == id)
    }

    /// One line (without its `\n`, or a chunk that had none within the limit) from
    /// connection `conn`, at `now_ms`. `local`: the connection comes from this
    /// machine's unix socket and this user (only such may watch the class).
    pub fn said(&mut self, conn: u64, line: &[u8], now_ms: u64, local: bool) -> Verdict {
        let role = self.role(conn).clone();
        let id = match role {
            Role::Refused => return Verdict::Nothing,
            Role::Learner { id, tokens, at_ms } => {
                // The bucket refills at RATE a second, up to BURST.
                let secs = now_ms.saturating_sub(at_ms) as f64 / 1000.0;
                let tokens = (tokens + secs * RATE).min(BURST) - 1.0;
                if tokens < 0.0 {
                    return self.drop_conn(
                        conn,
                        format!("sent more than {BURST} lines at once or {RATE} a second after"),
                        now_ms,
                    );
                }
                *self.role(conn) = Role::Learner {
                    id,
                    tokens,
                    at_ms: now_ms,
                };
                Some(id)
            }
            Role::Quiet | Role::Watcher => None,
        };
        if line.len() >= learner::MAX_LINE {
            let why = format!("sent a line over {} bytes", learner::MAX_LINE);
            return self.drop_conn(conn, why, now_ms);
        }
        let said = std::str::from_utf8(line)
            .map_err(|e| LineError::Garbage(format!("not UTF-8: {e}")))
            .and_then(Said::decode);
        match (said, role) {
            (Err(LineError::Newer(v)), Role::Quiet) => {
                *self.role(conn) = Role::Refused;
                Verdict::Refuse(format!(
                    "your underhood speaks class protocol {v}, this session's only {}: \
                     you follow, the instructor does not see your progress",
                    learner::VERSION
                ))
            }
            // A newer learner's extra line: not ours to judge.
            (Err(LineError::Newer(_)), _) => Verdict::Nothing,
            (Err(LineError::Garbage(why)), _) => {
                self.drop_conn(conn, format!("sent garbage: {why}"), now_ms)
            }
            (Ok(Said::Hello { name }), Role::Quiet) => self.hello(conn, &name, now_ms),
            (Ok(Said::Watch {}), Role::Quiet) if local => {
                *self.role(conn) = Role::Watcher;
                Verdict::Watch
            }
            (Ok(Said::Watch {}), Role::Quiet) => {
                *self.role(conn) = Role::Refused;
                Verdict::Refuse(
                    "the class is shown only on the instructor's machine, to the user \
                     running the session (unix socket)"
                        .into(),
                )
            }
            (Ok(Said::Progress(p)), Role::Learner { .. }) => {
                let id = id.unwrap_or_default();
                let p = p.cleaned();
                let Some(l) = self.learner_mut(id) else {
                    return Verdict::Nothing;
                };
                l.heard_ms = now_ms;
                if l.entry.progress.as_ref() == Some(&p) {
                    return Verdict::Nothing;
                }
                l.entry.progress = Some(p);
                Verdict::Changed(id)
            }
            (Ok(said), role) => {
                let what = match said {
                    Said::Hello { .. } => "hello",
                    Said::Progress(_) => "progress",
                    Said::Watch {} => "watch",
                };
                let when = match role {
                    Role::Quiet => "before hello",
                    Role::Watcher => "while watching",
                    _ => "after hello",
                };
                self.drop_conn(conn, format!("sent {what} {when}"), now_ms)
            }
        }
    }

    fn hello(&mut self, conn: u64, name: &str, now_ms: u64) -> Verdict {
        if self.present() >= MAX_LEARNERS {
            *self.role(conn) = Role::Refused;
            return Verdict::Refuse(format!(
                "the class is full: this session takes at most {MAX_LEARNERS} learners; \
                 you follow, the instructor does not see your progress"
            ));
        }
        let mut name = learner::clean(name, learner::MAX_NAME);
        if name.is_empty() {
            name = "(no name)".into();
        }
        // A learner back after a loss takes their entry again; another with a name
        // already present is numbered (lab machines often share user@host).
        let back = self
            .learners
            .iter()
            .rposition(|l| l.entry.gone.is_some() && l.entry.name == name);
        let id = match back {
            Some(i) => {
                let l = &mut self.learners[i];
                l.entry.gone = None;
                l.entry.progress = None;
                l.heard_ms = now_ms;
                l.entry.id
            }
            None => {
                let taken = |n: &str| self.learners.iter().any(|l| l.entry.name == n);
                let mut unique = name.clone();
                let mut k = 2;
                while taken(&unique) {
                    unique = format!("{name} ({k})");
                    k += 1;
                }
                self.next_id += 1;
                let id = self.next_id;
                self.learners.push(Learner {
                    entry: Entry {
                        id,
                        name: unique,
                        gone: None,
                        progress: None,
                    },
                    heard_ms: now_ms,
                });
                self.forget_old();
                id
            }
        };
        *self.role(conn) = Role::Learner {
            id,
            tokens: BURST,
            at_ms: now_ms,
        };
        Verdict::Changed(id)
    }

    /// The oldest gone learners past [`MAX_GONE`].
    fn forget_old(&mut self) {
        while self
            .learners
            .iter()
            .filter(|l| l.entry.gone.is_some())
            .count()
            > MAX_GONE
        {
            if let Some(i) = self.learners.iter().position(|l| l.entry.gone.is_some()) {
                self.learners.remove(i);
            }
        }
    }

    fn drop_conn(&mut self, conn: u64, why: String, now_ms: u64) -> Verdict {
        let id = self.closed(conn, &why, now_ms);
        Verdict::Drop(id, why)
    }

    /// Connection `conn` is gone (closed, dropped): its learner, if it was one, is
    /// now gone for `why` (returned, to tell the watchers).
    pub fn closed(&mut self, conn: u64, why: &str, _now_ms: u64) -> Option<u64> {
        let i = self.conns.iter().position(|(c, _)| *c == conn)?;
        let (_, role) = self.conns.remove(i);
        let Role::Learner { id, .. } = role else {
            return None;
        };
        let l = self.learner_mut(id)?;
        l.entry.gone = Some(learner::clean(why, learner::MAX_WHY));
        self.forget_old();
        Some(id)
    }

    /// Connections of learners not heard from for [`SILENCE_MS`].
    pub fn silent(&self, now_ms: u64) -> Vec<u64> {
        self.conns
            .iter()
            .filter_map(|(c, r)| match r {
                Role::Learner { id, .. } => self
                    .learners
                    .iter()
                    .find(|l| l.entry.id == *id)
                    .filter(|l| now_ms.saturating_sub(l.heard_ms) > SILENCE_MS)
                    .map(|_| *c),
                _ => None,
            })
            .collect()
    }

    /// The watcher's side: an entry from the session replaces the one of the same id.
    pub fn absorb(&mut self, entry: Entry, now_ms: u64) {
        let entry = Entry {
            name: learner::clean(&entry.name, learner::MAX_NAME),
            gone: entry.gone.map(|g| learner::clean(&g, learner::MAX_WHY)),
            progress: entry.progress.map(Progress::cleaned),
            id: entry.id,
        };
        match self.learners.iter_mut().find(|l| l.entry.id == entry.id) {
            Some(l) => {
                l.entry = entry;
                l.heard_ms = now_ms;
            }
            None => {
                self.learners.push(Learner {
                    entry,
                    heard_ms: now_ms,
                });
                self.forget_old();
                // A session that sends more than it may is not believed further.
                while self.present() > MAX_LEARNERS {
                    if let Some(i) = self.learners.iter().position(|l| l.entry.gone.is_none()) {
                        self.learners.remove(i);
                    }
                }
            }
        }
    }

    /// Per check of `ids` (lesson `lesson`): how many present learners on that lesson
    /// passed it. Learners elsewhere count as not having it.
    pub fn counts(&self, lesson: Option<&str>, ids: &[String]) -> Vec<usize> {
        ids.iter()
            .map(|id| {
                self.learners
                    .iter()
                    .filter(|l| l.entry.gone.is_none())
                    .filter_map(|l| l.entry.progress.as_ref())
                    .filter(|p| p.lesson.as_deref() == lesson)
                    .filter(|p| {
                        p.check(id)
                            .is_some_and(|c| c.state == learner::State::Passed)
                    })
                    .count()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::follow::learner::{CheckState, State};

    fn hello(name: &str) -> Vec<u8> {
        Said::Hello { name: name.into() }
            .encode()
            .trim_end()
            .as_bytes()
            .to_vec()
    }

    fn progress(lesson: &str, done: u32, passed: &[bool]) -> Vec<u8> {
        let p = Progress {
            lesson: Some(lesson.into()),
            done,
            of: 5,
            step: Some("pid".into()),
            checks: passed
                .iter()
                .enumerate()
                .map(|(i, ok)| CheckState {
                    id: format!("c{i}"),
                    state: if *ok { State::Passed } else { State::Failed },
                    why: (!ok).then(|| "not yet seen".into()),
                })
                .collect(),
        };
        p.encode().trim_end().as_bytes().to_vec()
    }

    #[test]
    fn a_learner_says_hello_then_progress_and_each_change_is_news() {
        let mut r = Roster::default();
        assert_eq!(r.said(1, &hello("ada@lab"), 0, false), Verdict::Changed(1));
        assert_eq!(
            r.said(1, &progress("oom", 2, &[false, false]), 10, false),
            Verdict::Changed(1)
        );
        // The heartbeat repeats it: nothing to tell.
        assert_eq!(
            r.said(1, &progress("oom", 2, &[false, false]), 20, false),
            Verdict::Nothing
        );
        assert_eq!(
            r.said(1, &progress("oom", 3, &[true, false]), 30, false),
            Verdict::Changed(1)
        );
        let e = r.entry(1).unwrap();
        assert_eq!(e.name, "ada@lab");
        let p = e.progress.as_ref().unwrap();
        assert_eq!((p.done, p.check("c0").unwrap().state), (3, State::Passed));
        assert_eq!(p.check("c1").unwrap().why.as_deref(), Some("not yet seen"));
    }

    #[test]
    fn garbage_drops_that_learner_with_the_reason_and_nobody_else() {
        let mut r = Roster::default();
        r.said(1, &hello("ada"), 0, false);
        r.said(2, &hello("bob"), 0, false);
        r.said(2, &progress("oom", 1, &[true]), 0, false);
        let v = r.said(1, b"\x1b[2J rm -rf", 5, false);
        let Verdict::Drop(Some(1), why) = v else {
            panic!("{v:?}")
        };
        assert!(why.starts_with("sent garbage: not JSON"), "{why}");
        assert_eq!(r.entry(1).unwrap().gone.as_deref(), Some(why.as_str()));
        assert_eq!(r.entry(2).unwrap().gone, None);
        assert_eq!(r.present(), 1);
        // Other rule breakers, each dropped with its rule.
        let cases: [(&[u8], &str); 5] = [
            (b"\xff\xfe", "not UTF-8"),
            (br#"{"v":1,"watch":{}}"#, "sent watch after hello"),
            (br#"{"v":1,"hello":{"name":"x"}}"#, "sent hello after hello"),
            (br#"{"v":1,"progress":{"done":"x"}}"#, "sent garbage"),
            (&[b'{'; learner::MAX_LINE], "over 8192 bytes"),
        ];
        for (i, (line, want)) in cases.into_iter().enumerate() {
            let conn = 10 + i as u64;
            r.said(conn, &hello(&format!("p{i}")), 0, false);
            let v = r.said(conn, line, 1, false);
            assert!(
                matches!(&v, Verdict::Drop(Some(_), why) if why.contains(want)),
                "{want}: {v:?}"
            );
        }
        // Progress before hello: dropped, no learner to mark.
        assert_eq!(
            r.said(30, &progress("oom", 1, &[]), 0, false),
            Verdict::Drop(None, "sent progress before hello".into())
        );
        assert_eq!(r.entry(2).unwrap().gone, None);
    }

    #[test]
    fn names_are_shown_harmless_and_told_apart() {
        let mut r = Roster::default();
        r.said(1, &hello("\u{1b}]0;pwned\u{7}eve"), 0, false);
        assert_eq!(r.entry(1).unwrap().name, "\\u{1b}]0;pwned\\u{7}eve");
        r.said(2, &hello("ubuntu@ubuntu"), 0, false);
        r.said(3, &hello("ubuntu@ubuntu"), 0, false);
        r.said(4, &hello(&"x".repeat(500)), 0, false);
        r.said(5, &hello("   "), 0, false);
        let names: Vec<_> = r.learners().iter().map(|l| l.entry.name.clone()).collect();
        assert_eq!(names[1..3], ["ubuntu@ubuntu", "ubuntu@ubuntu (2)"]);
        assert_eq!(names[3].chars().count(), learner::MAX_NAME + 1);
        assert_eq!(names[4], "(no name)");
    }

    #[test]
    fn the_class_is_bounded_and_the_next_learner_is_told_why() {
        let mut r = Roster::default();
        for c in 0..MAX_LEARNERS as u64 {
            assert_eq!(
                r.said(c, &hello(&format!("l{c}")), 0, false),
                Verdict::Changed(c + 1)
            );
        }
        let v = r.said(99, &hello("late"), 0, false);
        assert!(
            matches!(&v, Verdict::Refuse(why) if why.contains("at most 60 learners")),
            "{v:?}"
        );
        // The refused one follows on; what it says is ignored.
        assert_eq!(
            r.said(99, &progress("oom", 1, &[]), 1, false),
            Verdict::Nothing
        );
        // One leaves: a new one fits.
        assert_eq!(r.closed(0, "disconnected", 2), Some(1));
        assert_eq!(r.said(100, &hello("later"), 3, false), Verdict::Changed(61));
        // Gone learners are remembered up to MAX_GONE.
        for c in 200..200 + 2 * MAX_GONE as u64 {
            r.said(c, &hello(&format!("g{c}")), 0, false);
            r.closed(c, "disconnected", 0);
        }
        assert!(r.learners().len() <= MAX_LEARNERS + MAX_GONE);
    }

    #[test]
    fn a_learner_back_after_a_loss_takes_their_entry_again() {
        let mut r = Roster::default();
        r.said(1, &hello("ada"), 0, false);
        assert_eq!(r.closed(1, "disconnected", 5), Some(1));
        assert_eq!(r.entry(1).unwrap().gone.as_deref(), Some("disconnected"));
        assert_eq!(r.said(2, &hello("ada"), 9, false), Verdict::Changed(1));
        assert_eq!(r.entry(1).unwrap().gone, None);
        assert_eq!(r.learners().len(), 1);
    }

    #[test]
    fn floods_and_silence_drop_a_learner() {
        let mut r = Roster::default();
        r.said(1, &hello("ada"), 0, false);
        let mut last = Verdict::Nothing;
        for i in 0..BURST as u32 + 1 {
            last = r.said(1, &progress("oom", i, &[]), 0, false);
        }
        assert!(
            matches!(&last, Verdict::Drop(Some(1), why) if why.contains("lines at once")),
            "{last:?}"
        );
        // A steady pace under RATE is fine for ever.
        r.said(2, &hello("bob"), 0, false);
        for i in 0..1000u64 {
            let v = r.said(2, &progress("oom", i as u32, &[]), i * 100, false);
            assert_eq!(v, Verdict::Changed(2));
        }
        assert!(r.silent(100_000).is_empty());
        assert_eq!(r.silent(100_000 + SILENCE_MS + 1), vec![2]);
    }

    #[test]
    fn only_a_local_connection_may_watch() {
        let mut r = Roster::default();
        let watch = br#"{"v":1,"watch":{}}"#;
        assert_eq!(r.said(1, watch, 0, true), Verdict::Watch);
        assert!(matches!(r.said(2, watch, 0, false), Verdict::Refuse(_)));
        // A newer learner is told, not dropped.
        let v = r.said(3, br#"{"v":5,"hello":{"name":"x"}}"#, 0, false);
        assert!(
            matches!(&v, Verdict::Refuse(w) if w.contains("protocol 5")),
            "{v:?}"
        );
    }

    #[test]
    fn counts_are_of_present_learners_on_the_lesson() {
        let mut r = Roster::default();
        let ids = ["c0".to_string(), "c1".to_string()];
        for (c, passed, lesson) in [
            (1, [true, true], "oom"),
            (2, [true, false], "oom"),
            (3, [true, true], "uts"),
            (4, [true, true], "oom"),
        ] {
            r.said(c, &hello(&format!("l{c}")), 0, false);
            r.said(c, &progress(lesson, 3, &passed), 0, false);
        }
        r.closed(4, "disconnected", 0);
        assert_eq!(r.counts(Some("oom"), &ids), vec![2, 1]);
        assert_eq!(r.present(), 3);
        // The watcher's copy counts the same.
        let mut w = Roster::default();
        for l in r.learners() {
            w.absorb(l.entry.clone(), 0);
        }
        assert_eq!(w.counts(Some("oom"), &ids), vec![2, 1]);
    }
}
