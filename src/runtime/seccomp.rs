//! The container's seccomp filter (seccomp(2)): a BPF program the kernel runs on every
//! system call of the container, built like Docker's default profile where it matters.
//!
//! What it does, in the order the program checks it:
//! 1. any ABI other than the native one (on x86_64: i386 through `int $0x80`) kills
//!    the process: the numbers below are x86_64 numbers and mean other calls there;
//! 2. x32 numbers (on x86_64, `__X32_SYSCALL_BIT` set, seccomp(2)) fail with EPERM:
//!    they reach the same kernel code under numbers a list of x86_64 numbers misses;
//! 3. clone3(2) fails with ENOSYS: its flags sit in a struct in memory, which seccomp
//!    cannot read, so it cannot be told apart from a namespace-making call; libc then
//!    falls back to clone(2) (glibc's pthread_create and posix_spawn do);
//! 4. clone(2) with any of `CLONE_NAMESPACE_FLAGS` fails with EPERM: in a new user
//!    namespace the child would have every capability again (user_namespaces(7));
//!    CLONE_NEWTIME cannot be passed to clone(2) (its low byte is the exit signal),
//!    only to unshare(2) and clone3(2), both refused;
//! 5. ioctl(2) TIOCSTI and TIOCLINUX fail with EPERM: both push input into a terminal;
//! 6. the named calls (`DEFAULT_DENY` and a lesson's own) fail with EPERM;
//! 7. everything else is allowed.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

/// Syscalls our default filter answers with EPERM, every argument alike: kernel
/// keyrings, module loading, kexec, BPF, perf, userfaultfd, swap, accounting, new
/// namespaces (unshare) and joining others (setns), and io_uring. Docker's default
/// profile blocks these too, for the same reasons: each is a large kernel attack
/// surface a container's workload does not need. io_uring (Docker blocks it since
/// 25.0) also does its reads, writes and opens without a system call per operation,
/// so a filter that refuses, say, openat never sees the io_uring request that does it.
pub const DEFAULT_DENY: [&str; 20] = [
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "open_by_handle_at",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "acct",
    "unshare",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
];

/// The clone(2) flags that make a namespace, as Docker's profile masks them:
/// CLONE_NEWNS 0x20000 | CLONE_NEWCGROUP 0x2000000 | CLONE_NEWUTS 0x4000000 |
/// CLONE_NEWIPC 0x8000000 | CLONE_NEWUSER 0x10000000 | CLONE_NEWPID 0x20000000 |
/// CLONE_NEWNET 0x40000000.
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// ioctl(2) requests refused (tty_ioctl(4), ioctl_console(2)): TIOCSTI types into a
/// terminal's input; TIOCLINUX can paste a console's selection into it.
// libc's request type is c_ulong with glibc, c_int with musl: the cast is needed there.
#[allow(clippy::unnecessary_cast)]
pub const DENIED_IOCTLS: [(&str, u64); 2] = [
    ("TIOCSTI", libc::TIOCSTI as u64),
    ("TIOCLINUX", libc::TIOCLINUX as u64),
];

/// Set in the number of an x32 system call (arch/x86/include/uapi/asm/unistd.h).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `seccomp_data.arch` of the native ABI (linux/audit.h).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_NATIVE: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_NATIVE: u32 = 0xC000_00B7;

/// Syscall numbers by name for the names a filter may take. Note the aliases: on
/// x86_64 `mkdir` and `mkdirat` are two syscalls, and a filter that blocks only one
/// is bypassed by a libc that uses the other.
pub fn syscall_number(name: &str) -> Option<i64> {
    Some(match name {
        "keyctl" => libc::SYS_keyctl,
        "add_key" => libc::SYS_add_key,
        "request_key" => libc::SYS_request_key,
        "kexec_load" => libc::SYS_kexec_load,
        #[cfg(target_arch = "x86_64")]
        "kexec_file_load" => libc::SYS_kexec_file_load,
        "open_by_handle_at" => libc::SYS_open_by_handle_at,
        "bpf" => libc::SYS_bpf,
        "perf_event_open" => libc::SYS_perf_event_open,
        "userfaultfd" => libc::SYS_userfaultfd,
        "init_module" => libc::SYS_init_module,
        "finit_module" => libc::SYS_finit_module,
        "delete_module" => libc::SYS_delete_module,
        "swapon" => libc::SYS_swapon,
        "swapoff" => libc::SYS_swapoff,
        "acct" => libc::SYS_acct,
        "unshare" => libc::SYS_unshare,
        "setns" => libc::SYS_setns,
        "clone" => libc::SYS_clone,
        "clone3" => libc::SYS_clone3,
        "ioctl" => libc::SYS_ioctl,
        "io_uring_setup" => libc::SYS_io_uring_setup,
        "io_uring_enter" => libc::SYS_io_uring_enter,
        "io_uring_register" => libc::SYS_io_uring_register,
        #[cfg(target_arch = "x86_64")]
        "mkdir" => libc::SYS_mkdir,
        "mkdirat" => libc::SYS_mkdirat,
        #[cfg(target_arch = "x86_64")]
        "chmod" => libc::SYS_chmod,
        "fchmodat" => libc::SYS_fchmodat,
        "sethostname" => libc::SYS_sethostname,
        "mount" => libc::SYS_mount,
        "chroot" => libc::SYS_chroot,
        "ptrace" => libc::SYS_ptrace,
        "reboot" => libc::SYS_reboot,
        _ => return None,
    })
}

/// Why a filter could not be made: a name we refuse, or seccompiler refusing what we
/// built (its own error in the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("seccomp: unknown syscall name {0:?}")]
    UnknownSyscall(String),
    #[error("seccomp: {0}")]
    Build(String),
}

fn rule(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompRule, Error> {
    let cond = SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
        .map_err(|e| Error::Build(format!("condition on argument {arg}: {e}")))?;
    SeccompRule::new(vec![cond]).map_err(|e| Error::Build(format!("rule: {e}")))
}

/// The rules with arguments. Each compares the low 32 bits only (`Dword`), as the
/// kernel reads them: clone(2) takes `lower_32_bits(flags)` and ioctl(2)'s request is
/// an `unsigned int`, so setting high bits cannot slip past.
fn argument_rules() -> Result<Vec<(i64, Vec<SeccompRule>)>, Error> {
    // One rule per flag: the rules of a call are or-ed, so "any flag set" matches.
    let mut clone = Vec::new();
    for bit in 0..64 {
        let flag = 1u64 << bit;
        if CLONE_NAMESPACE_FLAGS & flag != 0 {
            // clone(flags, stack, parent_tid, child_tid, tls): the flags are argument 0.
            clone.push(rule(0, SeccompCmpOp::MaskedEq(flag), flag)?);
        }
    }
    let mut ioctl = Vec::new();
    for (_, request) in DENIED_IOCTLS {
        // ioctl(fd, request, arg): the request is argument 1.
        ioctl.push(rule(1, SeccompCmpOp::Eq, request)?);
    }
    Ok(vec![(libc::SYS_clone, clone), (libc::SYS_ioctl, ioctl)])
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

// Classic BPF opcodes (linux/bpf_common.h, linux/filter.h) and seccomp_data offsets
// (linux/seccomp.h: nr at 0, arch at 4, args from 16).
/// BPF_LD (0x00) | BPF_W (0x00) | BPF_ABS (0x20).
const LD_W_ABS: u16 = 0x20;
const JMP_JEQ_K: u16 = 0x05 | 0x10;
const JMP_JGE_K: u16 = 0x05 | 0x30;
const RET_K: u16 = 0x06;
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA)
}

/// The checks seccompiler cannot express (its filter has one action for every
/// match): x32 numbers and clone3, before the rules. A non-native arch jumps straight
/// to seccompiler's own arch check, which kills.
fn prelude() -> Vec<sock_filter> {
    let mut tail = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        tail.push(jump(JMP_JGE_K, X32_SYSCALL_BIT, 0, 1));
        tail.push(stmt(RET_K, errno(libc::EPERM)));
    }
    tail.push(jump(JMP_JEQ_K, libc::SYS_clone3 as u32, 0, 1));
    tail.push(stmt(RET_K, errno(libc::ENOSYS)));
    let mut p = vec![
        stmt(LD_W_ABS, DATA_ARCH),
        // Not native: skip the loaded number and the tail, to the body's arch check.
        jump(JMP_JEQ_K, AUDIT_ARCH_NATIVE, 0, tail.len() as u8 + 1),
        stmt(LD_W_ABS, DATA_NR),
    ];
    p.extend(tail);
    p
}

/// The filter: `deny` answered with EPERM for every argument, plus the fixed checks
/// in this module's header. Never fails for the default list.
pub fn filter(deny: &[String]) -> Result<BpfProgram, Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for name in deny {
        if let Some(nr) = syscall_number(name) {
            // An empty rule list matches every call of that number.
            rules.insert(nr, Vec::new());
        } else if !(name == "kexec_file_load" && cfg!(not(target_arch = "x86_64"))) {
            return Err(Error::UnknownSyscall(name.clone()));
        }
    }
    for (nr, conditional) in argument_rules()? {
        // A call denied outright stays so.
        rules.entry(nr).or_insert(conditional);
    }
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| Error::Build(format!("unsupported architecture: {e}")))?;
    let f = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| Error::Build(format!("building the filter: {e}")))?;
    let body =
        BpfProgram::try_from(f).map_err(|e| Error::Build(format!("compiling the filter: {e}")))?;
    // seccompiler's jumps are relative and forward only: it runs unchanged after ours.
    let mut program = prelude();
    program.extend(body);
    Ok(program)
}

/// What the filter does, for the security step's report.
pub fn describe(deny: &[String]) -> String {
    let ioctls: Vec<&str> = DENIED_IOCTLS.iter().map(|(n, _)| *n).collect();
    let x32 = if cfg!(target_arch = "x86_64") {
        format!(", x32 numbers (nr >= {X32_SYSCALL_BIT:#x})")
    } else {
        String::new()
    };
    format!(
        "EPERM for {}, clone with a namespace flag (flags & {CLONE_NAMESPACE_FLAGS:#x}), ioctl {}{x32}; ENOSYS for clone3; other ABIs killed",
        deny.join(","),
        ioctls.join("/"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// seccomp_data (linux/seccomp.h) of one call, as the kernel hands it to the filter.
    struct Data {
        nr: u32,
        arch: u32,
        args: [u64; 6],
    }

    impl Data {
        fn call(nr: i64, args: &[u64]) -> Data {
            let mut a = [0u64; 6];
            a[..args.len()].copy_from_slice(args);
            Data {
                nr: nr as u32,
                arch: AUDIT_ARCH_NATIVE,
                args: a,
            }
        }

        fn word(&self, offset: u32) -> u32 {
            match offset {
                0 => self.nr,
                4 => self.arch,
                o if (16..64).contains(&o) => {
                    let i = ((o - 16) / 8) as usize;
                    if (o - 16) % 8 == 0 {
                        self.args[i] as u32
                    } else {
                        (self.args[i] >> 32) as u32
                    }
                }
                o => panic!("load from offset {o}"),
            }
        }
    }

    /// A classic BPF interpreter for the instructions a seccomp filter uses
    /// (filter(2)-style: loads, ALU AND, conditional and plain jumps, returns).
    fn run(prog: &[sock_filter], d: &Data) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = &prog[pc];
            pc += 1;
            match i.code & 0x07 {
                0x00 => {
                    assert_eq!(i.code, LD_W_ABS, "only absolute word loads");
                    a = d.word(i.k);
                }
                0x04 => {
                    assert_eq!(i.code, 0x04 | 0x50, "only AND with a constant");
                    a &= i.k;
                }
                0x05 => {
                    let taken = match i.code & 0xf0 {
                        0x00 => {
                            pc += i.k as usize;
                            continue;
                        }
                        0x10 => a == i.k,
                        0x20 => a > i.k,
                        0x30 => a >= i.k,
                        0x40 => a & i.k != 0,
                        op => panic!("jump op {op:#x}"),
                    };
                    pc += if taken { i.jt } else { i.jf } as usize;
                }
                0x06 => return i.k,
                class => panic!("instruction class {class:#x}"),
            }
        }
    }

    fn default_filter() -> BpfProgram {
        let deny: Vec<String> = DEFAULT_DENY.iter().map(|s| s.to_string()).collect();
        filter(&deny).unwrap()
    }

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;

    #[test]
    fn default_filter_compiles_and_unknown_names_are_refused() {
        let p = default_filter();
        assert!(p.len() > DEFAULT_DENY.len());
        assert!(filter(&["nosuchcall".to_string()]).is_err());
    }

    #[test]
    fn every_named_call_fails_with_eperm_whatever_its_arguments() {
        let p = default_filter();
        for name in DEFAULT_DENY {
            let Some(nr) = syscall_number(name) else {
                continue;
            };
            for args in [&[][..], &[0x1000_0000, 7, 9]] {
                assert_eq!(run(&p, &Data::call(nr, args)), errno(libc::EPERM), "{name}");
            }
        }
        for name in ["unshare", "setns", "io_uring_setup", "io_uring_enter"] {
            assert!(DEFAULT_DENY.contains(&name), "{name}");
        }
    }

    #[test]
    fn clone_is_refused_with_any_namespace_flag_and_allowed_without() {
        let p = default_filter();
        let sigchld = libc::SIGCHLD as u64;
        for flag in [
            libc::CLONE_NEWNS,
            libc::CLONE_NEWCGROUP,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
        ] {
            let flags = flag as u64 | sigchld;
            assert_eq!(
                run(&p, &Data::call(libc::SYS_clone, &[flags])),
                errno(libc::EPERM),
                "{flag:#x}"
            );
        }
        assert_eq!(
            CLONE_NAMESPACE_FLAGS,
            (libc::CLONE_NEWNS
                | libc::CLONE_NEWCGROUP
                | libc::CLONE_NEWUTS
                | libc::CLONE_NEWIPC
                | libc::CLONE_NEWUSER
                | libc::CLONE_NEWPID
                | libc::CLONE_NEWNET) as u64
        );
        // fork(2) and glibc's thread flags.
        let thread = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        for flags in [sigchld, thread, sigchld | 0xFFFF_FFFF_0000_0000] {
            assert_eq!(run(&p, &Data::call(libc::SYS_clone, &[flags])), ALLOW);
        }
        // All namespaces together, with the high half set too.
        let all = CLONE_NAMESPACE_FLAGS | 0xFFFF_FFFF_0000_0000;
        assert_eq!(
            run(&p, &Data::call(libc::SYS_clone, &[all])),
            errno(libc::EPERM)
        );
    }

    #[test]
    fn clone3_answers_enosys_so_libc_falls_back_to_clone() {
        let p = default_filter();
        for args in [&[][..], &[0x7fff_0000_1000, 88]] {
            assert_eq!(
                run(&p, &Data::call(libc::SYS_clone3, args)),
                errno(libc::ENOSYS)
            );
        }
    }

    #[test]
    #[allow(clippy::unnecessary_cast)] // as for DENIED_IOCTLS
    fn terminal_injection_ioctls_fail_and_others_pass() {
        let p = default_filter();
        let sti = libc::TIOCSTI as u64;
        for request in [sti, sti | 0xFFFF_FFFF_0000_0000, libc::TIOCLINUX as u64] {
            assert_eq!(
                run(&p, &Data::call(libc::SYS_ioctl, &[0, request, 0])),
                errno(libc::EPERM),
                "{request:#x}"
            );
        }
        for request in [
            libc::TCGETS as u64,
            libc::TIOCGWINSZ as u64,
            libc::FIONREAD as u64,
        ] {
            assert_eq!(
                run(&p, &Data::call(libc::SYS_ioctl, &[0, request, 0])),
                ALLOW
            );
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn x32_numbers_fail_and_other_abis_are_killed() {
        let p = default_filter();
        for nr in [libc::SYS_getpid, libc::SYS_unshare, libc::SYS_read] {
            let x32 = Data {
                nr: nr as u32 | X32_SYSCALL_BIT,
                arch: AUDIT_ARCH_NATIVE,
                args: [0; 6],
            };
            assert_eq!(run(&p, &x32), errno(libc::EPERM), "x32 {nr}");
        }
        // i386 (AUDIT_ARCH_I386) through int $0x80: number 20 is getpid there.
        let i386 = Data {
            nr: 20,
            arch: 0x4000_0003,
            args: [0; 6],
        };
        assert_eq!(run(&p, &i386), libc::SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn ordinary_calls_pass() {
        let p = default_filter();
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_openat,
            libc::SYS_getpid,
            libc::SYS_execve,
            libc::SYS_wait4,
        ] {
            assert_eq!(run(&p, &Data::call(nr, &[1, 2, 3])), ALLOW, "{nr}");
        }
    }

    #[test]
    fn a_lesson_may_deny_clone_outright() {
        let p = filter(&["clone".to_string()]).unwrap();
        assert_eq!(
            run(&p, &Data::call(libc::SYS_clone, &[libc::SIGCHLD as u64])),
            errno(libc::EPERM)
        );
    }

    #[test]
    fn the_description_names_every_part() {
        let d = describe(&["unshare".to_string()]);
        for part in [
            "EPERM for unshare",
            "0x7e020000",
            "TIOCSTI",
            "ENOSYS for clone3",
        ] {
            assert!(d.contains(part), "{d}");
        }
    }
}
