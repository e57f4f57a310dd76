#!/usr/bin/env bash
# The VM test tier: boots Debian's own kernel under qemu (TCG) with an initramfs made
# of busybox, our binaries and our test executables, and runs the privileged tests
# there, once with cgroup v2 and once with the cgroup v1 layout.
#
#   vm/run.sh [v2|v1|all]        (default: all; run as root)
#
# Exit status: 0 every run passed; 1 a failure inside the VM; 2 the VM could not boot
# or died before its results were complete; 3 a timeout; 4 the harness itself failed
# (download, build). See vm/README.md.
#
# Environment (all optional):
#   UNDERHOOD_VM_DIR      cache and work directory (default: target/vm in the repo)
#   UNDERHOOD_VM_TIMEOUT  seconds one VM may run before it is killed (default: 900)
#   UNDERHOOD_VM_MEM      guest memory (default: 1024M)
#   UNDERHOOD_VM_PASSES   which / propagation passes to run: "private shared" (default)
#   UNDERHOOD_VM_APPEND   more kernel arguments (e.g. "loglevel=7" to see the boot)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mode=${1:-all}
case $mode in
v2 | v1) modes=("$mode") ;;
all) modes=(v2 v1) ;;
-h | --help)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "usage: vm/run.sh [v2|v1|all]" >&2
    exit 4
    ;;
esac

work=${UNDERHOOD_VM_DIR:-$repo/target/vm}
vm_timeout=${UNDERHOOD_VM_TIMEOUT:-900}
vm_mem=${UNDERHOOD_VM_MEM:-1024M}
passes=${UNDERHOOD_VM_PASSES:-private shared}
append=${UNDERHOOD_VM_APPEND:-}
export DEBIAN_FRONTEND=noninteractive

die() {
    echo "vm/run.sh: $*" >&2
    if [ -d "${work:-}" ]; then
        for m in "${modes[@]}"; do echo "VM cgroup $m: not run: the harness failed: $*" >"$work/summary-$m.txt"; done
    fi
    exit 4
}

[ "$(id -u)" = 0 ] || die "needs root (apt-get, mknod for the initramfs' /dev/console)"
mkdir -p "$work"
# One run at a time per work directory: the host-side tests may start two.
exec 9>"$work/.lock"
flock 9
for m in "${modes[@]}"; do rm -f "$work/summary-$m.txt" "$work/serial-$m.log"; done

now() { date +%s.%N; }
# Seconds from $2 to $1, one decimal (awk: bc is not on every machine).
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
t_start=$(now)
timings=()
phase_start=$t_start
# Records how long the phase since the last mark took.
mark() {
    local t
    t=$(now)
    timings+=("$(printf '%-34s %6s s' "$1" "$(elapsed "$t" "$phase_start")")")
    phase_start=$t
}

# ---------------------------------------------------------------------------- host tools
apt_updated=0
apt_update() {
    if [ $apt_updated = 0 ]; then
        echo "== apt-get update"
        apt-get update -q >/dev/null || die "apt-get update failed"
        apt_updated=1
    fi
}

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v flock >/dev/null || need+=(util-linux)
command -v gzip >/dev/null || need+=(gzip)
if ((${#need[@]})); then
    apt_update
    echo "== apt-get install --no-install-recommends ${need[*]}"
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
        die "apt-get install ${need[*]} failed"
fi
mark "install host tools (qemu)"

# --------------------------------------------------------------- Debian packages (cached)
# Downloads the candidate version of package $1 into $work/debs (apt-get download, no
# install) and prints the .deb's path. Stale package lists are refreshed once.
fetch_deb() {
    local pkg=$1 ver deb
    ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}') || true
    if [ -z "$ver" ]; then
        apt_update
        ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}') || true
        [ -n "$ver" ] || die "no Debian package $pkg (apt-cache show found nothing)"
    fi
    mkdir -p "$work/debs"
    deb=$(find "$work/debs" -maxdepth 1 -name "${pkg}_*.deb" | while read -r f; do
        [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && echo "$f"
    done | head -n1)
    if [ -z "$deb" ]; then
        echo "== apt-get download $pkg=$ver" >&2
        # APT::Sandbox::User=root: the download directory belongs to root, not _apt.
        if ! (cd "$work/debs" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$ver" >&2); then
            apt_update >&2
            (cd "$work/debs" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2) ||
                die "apt-get download $pkg failed"
            ver=$(apt-cache show --no-all-versions "$pkg" | awk '/^Version:/ {print $2; exit}')
        fi
        deb=$(find "$work/debs" -maxdepth 1 -name "${pkg}_*.deb" | while read -r f; do
            [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && echo "$f"
        done | head -n1)
        [ -n "$deb" ] || die "apt-get download $pkg left no .deb in $work/debs"
    fi
    echo "$deb"
}

# linux-image-amd64 is a metapackage: the kernel is in the linux-image-6.x-amd64 it
# depends on (this host's Debian release, as apt's sources say).
meta_deb=$(fetch_deb linux-image-amd64)
kpkg=$(dpkg-deb -f "$meta_deb" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
[ -n "$kpkg" ] || die "linux-image-amd64 names no linux-image-<version> package: $(dpkg-deb -f "$meta_deb" Depends)"
kdeb=$(fetch_deb "$kpkg")
bbdeb=$(fetch_deb busybox-static)
mark "download kernel + busybox .debs"

# --------------------------------------------------------------------- kernel modules
# overlay and veth are modules in Debian's kernel. Their dependencies come from the
# `depends=` field of each module's .modinfo (the package ships no modules.dep: depmod
# runs at install time). Compressed modules (.ko.xz/.ko.zst/.ko.gz, as from Debian 13)
# are decompressed here so busybox insmod needs no decompressor.
# add_module TREE OUT NAME: copies NAME (after its dependencies) from the unpacked
# modules TREE to OUT/NAME.ko and appends NAME to OUT/order.
add_module() {
    local tree=$1 out=$2 name=$3 f deps d plain
    grep -qx "$name" "$out/order" 2>/dev/null && return 0
    if grep -qE "/(${name//_/-}|${name//-/_})\.ko$" "$tree/modules.builtin" 2>/dev/null; then
        return 0 # built into the kernel
    fi
    f=$(find "$tree/kernel" \( -name "$name.ko*" -o -name "${name//_/-}.ko*" -o -name "${name//-/_}.ko*" \) | head -n1)
    [ -n "$f" ] || die "module $name is neither in $kpkg nor built in"
    plain=$out/$name.ko
    case $f in
    *.ko) cp "$f" "$plain" ;;
    *.ko.xz) xz -dc "$f" >"$plain" ;;
    *.ko.zst) zstd -qdc "$f" >"$plain" ;;
    *.ko.gz) gzip -dc "$f" >"$plain" ;;
    *) die "unknown module compression: $f" ;;
    esac
    deps=$(tr '\0' '\n' <"$plain" | sed -n 's/^depends=//p' | head -n1)
    for d in ${deps//,/ }; do add_module "$tree" "$out" "$d"; done
    echo "$name" >>"$out/order"
}

# The kernel, unpacked once per version (not installed: dpkg-deb -x into a temporary
# directory); only vmlinuz, its config and the modules we load are kept.
kdir=$work/kernel/$(basename "$kdeb" .deb)
if [ ! -e "$kdir/.done" ]; then
    echo "== unpacking $(basename "$kdeb")"
    rm -rf "$kdir" "$kdir.tmp"
    mkdir -p "$kdir.tmp" "$kdir/modules"
    dpkg-deb -x "$kdeb" "$kdir.tmp"
    cp "$kdir.tmp"/boot/vmlinuz-* "$kdir/vmlinuz"
    cp "$kdir.tmp"/boot/config-* "$kdir/config"
    tree=$(find "$kdir.tmp" -mindepth 3 -maxdepth 4 -type d -path '*lib/modules/*' | head -n1)
    [ -n "$tree" ] || die "$kpkg has no lib/modules/<version>"
    basename "$tree" >"$kdir/version"
    : >"$kdir/modules/order"
    add_module "$tree" "$kdir/modules" overlay
    add_module "$tree" "$kdir/modules" veth
    rm -rf "$kdir.tmp"
    touch "$kdir/.done"
fi
kver=$(cat "$kdir/version")
mapfile -t order <"$kdir/modules/order"
echo "== kernel $kver; CONFIG_MEMCG_V1: $(grep -E '^(# )?CONFIG_MEMCG_V1[ =]' "$kdir/config" || echo 'no such option (before 6.11 v1 memory comes with CONFIG_MEMCG)')"

bbdir=$work/busybox/$(basename "$bbdeb" .deb)
if [ ! -e "$bbdir/.done" ]; then
    rm -rf "$bbdir"
    mkdir -p "$bbdir"
    dpkg-deb -x "$bbdeb" "$bbdir"
    touch "$bbdir/.done"
fi
busybox=$bbdir/bin/busybox
[ -x "$busybox" ] || die "busybox-static has no bin/busybox"
mark "unpack kernel + busybox"

# ------------------------------------------------------------------ our binaries, tests
cd "$repo"
echo "== cargo build --release"
cargo build --release -q || die "cargo build --release failed"
mark "cargo build --release"
echo "== cargo test --release --no-run"
cargo test --release --no-run --message-format=json -q >"$work/test-artifacts.json" ||
    die "cargo test --release --no-run failed"
mark "cargo test --release --no-run"

# The integration tests find the binary at env!("CARGO_BIN_EXE_underhood"), under the
# target directory (CARGO_TARGET_DIR when set).
target_dir=${CARGO_TARGET_DIR:-$repo/target}
case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac
bin=$target_dir/release/underhood
[ -x "$bin" ] || die "no $bin after cargo build"
# Test executables: artifacts whose profile is a test profile, except this tier's own
# host-side test (tests/vm.rs), which would try to start a VM inside the VM.
tests=()
while IFS= read -r line; do
    case $line in *'"reason":"compiler-artifact"'*) ;; *) continue ;; esac
    printf '%s' "$line" | grep -q '"profile":{[^}]*"test":true' || continue
    exe=$(printf '%s' "$line" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')
    [ -n "$exe" ] || continue
    kind=$(printf '%s' "$line" | sed -n 's/.*"target":{"kind":\["\([a-z-]*\)".*/\1/p')
    name=$(basename "$exe")
    name=${name%-*}
    [ "$kind" = test ] && [ "$name" = vm ] && continue
    # tests/sizes.rs reads our source tree (lines of code per file), which the VM does
    # not carry: it checks the code, not a kernel, and the host tier runs it.
    [ "$kind" = test ] && [ "$name" = sizes ] && continue
    tests+=("$kind:$name:$exe")
done <"$work/test-artifacts.json"
((${#tests[@]})) || die "cargo listed no test executables"

# ----------------------------------------------------------------------------- initramfs
stage=$work/stage
rm -rf "$stage"

# A merged-/usr tree under $1 with /dev nodes for the kernel's console.
skeleton() {
    mkdir -p "$1"/usr/{bin,sbin,lib,lib64} "$1"/{dev,proc,sys,run,tmp,root,etc}
    for d in bin sbin lib lib64; do ln -s "usr/$d" "$1/$d"; done
    chmod 1777 "$1/tmp"
}

# copy_with_libs ROOT FILE [DEST]: copies a host file to DEST (default: the same path)
# under ROOT, with the shared libraries and ELF interpreter it loads (ldd).
copy_with_libs() {
    local root=$1 f=$2 dest=${3:-$2} lib
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$f" "$root$dest"
    ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
        while read -r lib; do
            [ -e "$root$lib" ] && continue
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib"
        done
}

# busybox with a symlink per applet at the applet's usual place (/usr/sbin/chroot,
# /bin/sh...), where nothing else is installed under that name. Relative links, as
# Debian's /bin/sh -> dash: an absolute one would lead out of a copied tree.
install_busybox() {
    local root=$1 path name
    cp "$busybox" "$root/usr/bin/busybox"
    for path in $("$busybox" --list-full); do
        case $path in bin/* | sbin/*) path=usr/$path ;; usr/*) ;; *) continue ;; esac
        name=${path##*/}
        [ -e "$root/usr/bin/$name" ] || [ -e "$root/usr/sbin/$name" ] || case $path in
        usr/bin/*) ln -s busybox "$root/$path" ;;
        usr/sbin/*) ln -s ../bin/busybox "$root/$path" ;;
        esac
    done
}

skeleton "$stage"
mkdir -p "$stage"/{vm/tests,vm/modules,var/cache,mnt}
# What a Debian host has and lessons read from the host (the chroot escape shows the
# host's os-release).
cp /etc/os-release "$stage/etc/os-release" 2>/dev/null || true
# The kernel opens /dev/console before /init runs; without the node init has no output.
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3
# A few of the host's own tools, as on a learner's machine: iproute2's `ip` (busybox's
# cannot name a veth's peer), util-linux's `unshare` (--propagation shared) and GNU tar
# (the image tests make GNU archives), and the util-linux tools lessons use on the host
# (ipcmk/ipcrm for the IPC lesson, nsenter for entering a container), and setpriv (the
# rootless tests become uid 65534 with it), lsns and findmnt (the explore tests compare
# what explore reads with them). Busybox provides
# the rest.
for tool in ip:/usr/sbin/ip unshare:/usr/bin/unshare tar:/usr/bin/tar \
    ipcmk:/usr/bin/ipcmk ipcrm:/usr/bin/ipcrm nsenter:/usr/bin/nsenter \
    setpriv:/usr/bin/setpriv lsns:/usr/bin/lsns findmnt:/usr/bin/findmnt; do
    p=$(command -v "${tool%%:*}") || die "host has no ${tool%%:*} (apt-get install iproute2 util-linux tar)"
    copy_with_libs "$stage" "$p" "${tool#*:}"
done
# runc (from the distribution, as the explore tests and lesson 17 use it; a Go binary
# linked to libseccomp and libc, so it runs here with its libraries, as the tools
# above): where the host has it, tests/explore.rs's runc trials run on this kernel too;
# where it has none they report themselves ignored, as on the host.
if p=$(command -v runc); then
    copy_with_libs "$stage" "$p" /usr/sbin/runc
else
    echo "== no runc on this host (apt-get install runc): the explore tests' runc trials are ignored in the VM"
fi
install_busybox "$stage"
# The loader's configuration, as on a Debian host: our rootfs assembler (lddtree) looks
# for libraries in the directories it names (/lib/x86_64-linux-gnu).
mkdir -p "$stage/etc/ld.so.conf.d"
cp /etc/ld.so.conf "$stage/etc/" 2>/dev/null || true
cp /etc/ld.so.conf.d/*.conf "$stage/etc/ld.so.conf.d/" 2>/dev/null || true

# underhood at the same absolute path as here: the integration tests run
# env!("CARGO_BIN_EXE_underhood"), a path fixed at compile time.
copy_with_libs "$stage" "$bin"
printf '%s\n' "$bin" >"$stage/vm/underhood-path"
: >"$stage/vm/tests.list"
# In a fixed order (cargo lists artifacts as they finish): unit tests of the binary,
# then of the library, then the integration tests by name.
mapfile -t tests < <(printf '%s\n' "${tests[@]}" | sort -t: -k1,1 -k2,2)
for t in "${tests[@]}"; do
    IFS=: read -r kind name exe <<<"$t"
    copy_with_libs "$stage" "$exe" "/vm/tests/$kind-$name"
    printf '%s %s\n' "$kind-$name" "$kind" >>"$stage/vm/tests.list"
done
# Data the tests may read relative to the package root (their working directory).
mkdir -p "$stage$repo"
for d in lessons rootfs tests; do
    [ -d "$repo/$d" ] && cp -r "$repo/$d" "$stage$repo/"
done
printf '%s\n' "$repo" >"$stage/vm/repo-path"

# The escape suite's probes (tests/escape/probes/*.c), compiled static here: the VM has
# no compiler. tests/escape/probe.rs finds them through UNDERHOOD_PROBES (vm/init).
for c in "$repo"/tests/escape/probes/*.c; do
    [ -e "$c" ] || continue
    n=$(basename "$c" .c)
    mkdir -p "$stage/vm/probes/$n"
    gcc -static -O1 -o "$stage/vm/probes/$n/$n" "$c" || die "gcc -static $c failed (apt-get install gcc libc6-dev)"
done

# A small root filesystem of our own for the checks that use --rootfs: busybox, and a
# copy of our binary as `hog` (never the host's own binary, as in the real tools layer).
skeleton "$stage/vm/rootfs"
install_busybox "$stage/vm/rootfs"
rm -f "$stage/vm/rootfs/usr/bin/hog"
copy_with_libs "$stage/vm/rootfs" "$bin" /usr/bin/hog

cp "$kdir"/modules/*.ko "$kdir/modules/order" "$stage/vm/modules/"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
echo "root:x:0:" >"$stage/etc/group"

initrd=$work/initramfs.cpio.gz
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 >"$initrd.tmp")
mv "$initrd.tmp" "$initrd"
echo "== initramfs: $(du -h "$initrd" | cut -f1) ($(du -sh "$stage" | cut -f1) unpacked), kernel $kver, modules: ${order[*]}"
echo "   tests: $(cut -d' ' -f1 "$stage/vm/tests.list" | tr '\n' ' ')"
mark "build initramfs"

# ------------------------------------------------------------------------------ the VMs
# Runs one VM and judges its serial log. Returns 0 pass, 1 fail inside, 2 no boot /
# incomplete, 3 timeout.
run_vm() {
    local m=$1
    local log=$work/serial-$m.log rc started ended
    echo
    echo "== boot $kpkg with cgroup $m (qemu TCG, timeout ${vm_timeout}s); serial log: $log"
    started=$(now)
    # -no-reboot: the guest's poweroff, and a kernel panic (panic=-1 reboots at once),
    # both end qemu. KVM hangs on these machines: TCG only.
    set +e
    timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
        -accel tcg -machine pc -m "$vm_mem" -smp 2 \
        -nodefaults -display none -no-reboot -monitor none \
        -serial stdio \
        -kernel "$kdir/vmlinuz" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 quiet loglevel=3 uh.cgroup=$m uh.passes=${passes// /,} $append" \
        </dev/null 2>&1 | stdbuf -oL tr -d '\r' | tee "$log"
    # qemu's status (or timeout's 124) is the pipe's first.
    rc=${PIPESTATUS[0]}
    set -e
    ended=$(now)
    timings+=("$(printf '%-34s %6s s' "VM cgroup $m (boot..poweroff)" "$(elapsed "$ended" "$started")")")
    phase_start=$ended

    local verdict
    verdict=$(grep -a '^VM-RESULT: ' "$log" | tail -n1 || true)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "VM cgroup $m: TIMEOUT after ${vm_timeout}s (qemu killed); last phase started: $(grep -a '^=== BEGIN' "$log" | tail -n1)" >"$work/summary-$m.txt"
        rc=3
    elif ! grep -qa '^UNDERHOOD-VM: init started' "$log"; then
        echo "VM cgroup $m: the VM could not boot (no output from our /init; qemu exit $rc; UNDERHOOD_VM_APPEND=loglevel=7 shows the kernel's messages). Last lines:" >"$work/summary-$m.txt"
        tail -n 20 "$log" >>"$work/summary-$m.txt"
        rc=2
    elif [ -z "$verdict" ]; then
        echo "VM cgroup $m: the VM died before reporting a result (qemu exit $rc; kernel panic or init crash). Last lines:" >"$work/summary-$m.txt"
        tail -n 20 "$log" >>"$work/summary-$m.txt"
        rc=2
    elif [ "$verdict" = "VM-RESULT: PASS" ]; then
        echo "VM cgroup $m: PASS" >"$work/summary-$m.txt"
        rc=0
    else
        echo "VM cgroup $m: FAIL" >"$work/summary-$m.txt"
        rc=1
    fi
    {
        grep -a -E '^UNDERHOOD-VM: stage 2|^(VM-SUMMARY|VM-NOTE|VM-RESULT)' "$log" || true
        grep -a -E '^test result:|^SKIPPED' "$log" | sed 's/^/  /' || true
        # Each failed Rust test: its name and the first line of its panic message.
        grep -a -A1 "^thread '.*panicked at " "$log" | grep -v '^--$' | sed 's/^/  /' || true
    } >>"$work/summary-$m.txt"
    return $rc
}

overall=0
for m in "${modes[@]}"; do
    rc=0
    run_vm "$m" || rc=$?
    [ $rc -gt $overall ] && overall=$rc
done

echo
echo "================ VM tier summary ================"
for m in "${modes[@]}"; do cat "$work/summary-$m.txt"; echo; done
echo "Timings:"
printf '  %s\n' "${timings[@]}"
printf '  %-34s %6s s\n' "total" "$(elapsed "$(now)" "$t_start")"
exit $overall
