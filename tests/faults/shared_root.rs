//! See tests/faults.rs. A host whose / is rshared: none of our mounts reaches it.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::*;
use crate::volume_dir;

pub fn trials() -> Vec<Trial> {
    root_trials![root_rshared_host_root_gets_no_mount_of_ours_in_either_root_mode_nor_from_a_volume,]
}

/// Mount points (with fs type and source) of a mountinfo text.
fn mount_set(mountinfo: &str) -> BTreeSet<String> {
    mountinfo
        .lines()
        .map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" "))
        .collect()
}

fn root_rshared_host_root_gets_no_mount_of_ours_in_either_root_mode_nor_from_a_volume() {
    let vol = volume_dir();
    for mode in [&[][..], &["--chroot"][..], &["--userns"][..]] {
        let before_host = residue();
        let t = tempfile::tempdir().expect("tempdir");
        let td = t.path().display().to_string();
        // A throwaway mount namespace: made private first (cut from the real host's peer
        // groups), then rshared as on a systemd host.
        let script = format!(
            "mount --make-rprivate / && mount --make-rshared / || exit 99
             cat /proc/self/mountinfo > {td}/before
             {BIN} run {mode} -v {vol}:/data --memory 32M -- /bin/sh -c \
               'mount | grep -c /data; echo ready; sleep 2' > {td}/out 2> {td}/err &
             n=0; until grep -q ready {td}/out; do
               sleep 0.05; n=$((n+1)); [ $n -gt 400 ] && break; done
             cat /proc/self/mountinfo > {td}/during
             wait $!; echo $? > {td}/rc
             cat /proc/self/mountinfo > {td}/after",
            mode = mode.join(" "),
            vol = vol.path().display(),
        );
        let o = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .output()
            .expect("unshare");
        assert!(o.status.success(), "{mode:?}: {}", stderr(&o));
        let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default();
        assert_eq!(read("rc").trim(), "0", "{mode:?}: {}", read("err"));
        assert!(
            read("out").contains("ready"),
            "{mode:?}: the container never got ready: {}",
            read("err")
        );
        let shared = read("before");
        assert!(
            shared
                .lines()
                .any(|l| l.contains(" / / ") && l.contains("shared:")),
            "{mode:?}: / was not shared in the throwaway namespace: {shared}"
        );
        let before = mount_set(&shared);
        for phase in ["during", "after"] {
            let now = mount_set(&read(phase));
            let leaked: Vec<_> = now.difference(&before).collect();
            assert!(
                leaked.is_empty(),
                "{mode:?}: mounts of ours reached the shared root ({phase}): {leaked:#?}"
            );
        }
        assert_no_residue_of_ours(&before_host);
        eprintln!(
            "rshared /, mode {mode:?} with a volume: {} mounts before, none added during or after",
            before.len()
        );
    }
}
