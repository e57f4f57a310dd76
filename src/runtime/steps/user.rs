//! The user namespace (user_namespaces(7)): the subject unshares CLONE_NEWUSER; the
//! controller, from outside, writes its uid_map and gid_map; then the subject makes
//! itself root inside (`Request::BecomeRoot`). The maps are written once, by a process
//! with the right capabilities in the parent namespace, i.e. from outside; an
//! unprivileged writer must first deny setgroups(2) before it may write gid_map.

use crate::runtime::launch_error::Result;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{Inside, Outcome, Outside, Part, Shape, unshare};
use crate::ns::Ns;
use crate::runtime::protocol::Request;
use crate::runtime::report::Report;
use crate::runtime::sys::Sys;

/// uid_map/gid_map content: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

pub struct User<'a> {
    pub uid: &'a IdMap,
    pub gid: &'a IdMap,
}

impl Part for User<'_> {
    fn name(&self) -> &'static str {
        "user"
    }

    fn title(&self) -> String {
        "user namespace".into()
    }

    fn namespace(&self) -> Option<Ns> {
        Some(Ns::User)
    }

    fn shape(&self) -> Shape {
        Shape::ControllerBetween
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        unshare(cx.sys, cx.report, Ns::User)?;
        cx.report.note(
            "until the controller writes uid_map, every id here shows as the overflow id 65534",
        );
        cx.in_userns = true;
        Ok(Outcome::Done)
    }

    fn outside(&self, o: &mut Outside, r: &mut Report) -> Result<()> {
        let dir = o.paths.proc_root.join(o.subject.to_string());
        let root = o.sys.is_root();
        write_id_maps(o.sys, r, &dir, *self.uid, *self.gid, root)?;
        o.link
            .ask_into(
                &Request::BecomeRoot {
                    can_setgroups: root,
                },
                r,
                "becoming root in the user namespace failed",
            )
            .map(drop)
    }
}

/// Writes the maps into `dir` (/proc/<subject>): `setgroups` first when we are not
/// root (`writer_is_root` false), then uid_map, then gid_map, each in one write(2).
pub fn write_id_maps(
    sys: &mut dyn Sys,
    r: &mut Report,
    dir: &std::path::Path,
    uid: IdMap,
    gid: IdMap,
    writer_is_root: bool,
) -> nix::Result<()> {
    let mut write = |r: &mut Report, file: &str, content: String| -> nix::Result<()> {
        let path = dir.join(file);
        let res = sys.write_file(&path, &content);
        r.call("write", format!("{path:?}, {content:?}"), res)?;
        r.shell(format!(
            "echo '{}' > {}",
            content.trim_end(),
            path.display()
        ));
        Ok(())
    };
    if !writer_is_root {
        write(r, "setgroups", "deny".into())?;
    }
    write(
        r,
        "uid_map",
        format!("{} {} {}\n", uid.inside, uid.outside, uid.count),
    )?;
    write(
        r,
        "gid_map",
        format!("{} {} {}\n", gid.inside, gid.outside, gid.count),
    )?;
    r.note(format!(
        "uid {} inside is uid {} on the host",
        uid.inside, uid.outside
    ));
    Ok(())
}

/// The subject's answer to `Request::BecomeRoot`, after the controller wrote the id
/// maps: become uid/gid 0 *inside*. Our process keeps its old ids until it sets them,
/// and when it was started by root with a map like `0 100000 65536` its old uid 0 has
/// no mapping in the namespace at all, which overlayfs and others refuse (EACCES).
/// setgroups(2) is allowed only when the controller did not write `deny` to
/// /proc/<pid>/setgroups (i.e. when it is root).
pub fn become_root(sys: &mut dyn Sys, r: &mut Report, can_setgroups: bool) -> nix::Result<()> {
    if can_setgroups {
        let res = sys.clear_groups();
        r.call("setgroups", "0, []", res)?;
    }
    let res = sys.setresgid(0);
    r.call("setresgid", "0, 0, 0", res)?;
    let res = sys.setresuid(0);
    r.call("setresuid", "0, 0, 0", res)?;
    // Changing ids clears the dumpable flag, which makes /proc/self owned by the
    // host's root (unmapped here): we could no longer write timens_offsets.
    let res = sys.set_dumpable();
    r.call("prctl", "PR_SET_DUMPABLE, 1", res)?;
    r.note("root inside the user namespace now; on the host these are the mapped ids");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::runtime::step::Step;
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::{Call, Recorder};

    const MAP: IdMap = IdMap {
        inside: 0,
        outside: 100000,
        count: 65536,
    };

    #[test]
    fn the_subject_unshares_and_knows_it_is_in_a_user_namespace() {
        let mut sys = Recorder::default();
        let mut r = Report::new("user");
        let mut cx = Inside {
            sys: &mut sys,
            report: &mut r,
            in_userns: false,
            host_root: false,
            no_init: false,
            join_cgroup: &[],
        };
        let step = Step::User { uid: MAP, gid: MAP };
        super::super::of(&step).inside(&mut cx).unwrap();
        assert!(cx.in_userns);
        assert_eq!(sys.calls, vec![Call::Unshare(Ns::User.flag())]);
        let (_, res) = inside(&step, &mut Recorder::default(), false);
        res.unwrap();
    }

    #[test]
    fn a_rootless_writer_denies_setgroups_before_gid_map() {
        let mut sys = Recorder::default();
        let mut r = Report::new("user");
        write_id_maps(&mut sys, &mut r, Path::new("/proc/77"), MAP, MAP, false).unwrap();
        let files: Vec<_> = sys
            .calls
            .iter()
            .map(|c| match c {
                Call::WriteFile(p, content) => (p.display().to_string(), content.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            files,
            vec![
                ("/proc/77/setgroups".into(), "deny".into()),
                ("/proc/77/uid_map".into(), "0 100000 65536\n".into()),
                ("/proc/77/gid_map".into(), "0 100000 65536\n".into()),
            ]
        );
        assert_eq!(r.shell[1], "echo '0 100000 65536' > /proc/77/uid_map");
    }

    #[test]
    fn root_writes_the_maps_only_and_a_failure_stops_before_gid_map() {
        let mut sys = Recorder {
            fail: Some((
                |c| matches!(c, Call::WriteFile(p, _) if p.ends_with("uid_map")),
                Errno::EPERM,
            )),
            ..Default::default()
        };
        let mut r = Report::new("user");
        let res = write_id_maps(&mut sys, &mut r, Path::new("/proc/77"), MAP, MAP, true);
        assert_eq!(res, Err(Errno::EPERM));
        assert_eq!(sys.calls.len(), 1, "{:?}", sys.calls);
        assert!(r.render().contains("uid_map"), "{}", r.render());
    }

    #[test]
    fn becoming_root_sets_groups_gid_uid_then_dumpable() {
        let mut sys = Recorder::default();
        let mut r = Report::new("ids");
        become_root(&mut sys, &mut r, true).unwrap();
        assert_eq!(
            sys.calls,
            vec![
                Call::SetGroups,
                Call::SetResGid(0),
                Call::SetResUid(0),
                Call::SetDumpable
            ]
        );
        let mut sys = Recorder::default();
        become_root(&mut sys, &mut Report::new("ids"), false).unwrap();
        assert_eq!(sys.calls[0], Call::SetResGid(0));
    }
}
