//! Who runs doctor: root, or a user whose containers need a user namespace.

use underhood::observe::host::UsernsVerdict;

use super::{Check, Status};

pub(super) fn check_root(euid: u32) -> Check {
    if euid == 0 {
        return Check::new("root", Status::Yes, "running as root (uid 0)");
    }
    Check::new(
        "root",
        Status::Warn,
        format!("running as uid {euid}: rootless mode"),
    )
    .why(
        "without root, every container gets a user namespace mapping your uid to root inside, \
         and cgroup limits (the memory lesson) need a cgroup you may write to",
    )
    .fix("run `sudo underhood` for every lesson, or read on for what works rootless")
}

pub(super) fn check_userns(root: bool, v: &UsernsVerdict) -> Check {
    let name = "user namespaces";
    match (v, root) {
        (UsernsVerdict::Allowed, true) => Check::new(
            name,
            Status::Yes,
            "root may create them (and unprivileged users may too)",
        ),
        (UsernsVerdict::Allowed, false) => Check::new(
            name,
            Status::Yes,
            "allowed for unprivileged users: rootless containers work",
        ),
        (
            UsernsVerdict::Disabled { reason, remedy }
            | UsernsVerdict::RestrictedByAppArmor { reason, remedy },
            true,
        ) => Check::new(
            name,
            Status::Warn,
            "root may create them (`run --userns` works); unprivileged users may not",
        )
        .why(reason.clone())
        .fix(format!("only for rootless use: {remedy}")),
        (
            UsernsVerdict::Disabled { reason, remedy }
            | UsernsVerdict::RestrictedByAppArmor { reason, remedy },
            false,
        ) => Check::new(name, Status::No, "not usable by you")
            .why(reason.clone())
            .fix(remedy.clone()),
    }
}
