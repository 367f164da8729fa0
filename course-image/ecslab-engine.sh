#!/usr/bin/env bash
# The course image's own Docker engine (Docker in Docker): start, stop, status.
#
#   ecslab-engine start    # check privileges, write /etc/docker/daemon.json, start dockerd, wait
#   ecslab-engine stop     # stop dockerd (its containers stop with it)
#   ecslab-engine status   # running or not, storage driver, cgroup parent, free disk
#
# Settings live in /etc/docker/daemon.json, so a plain `dockerd` (which `ecslab up` starts when
# the engine is down) starts it the same way. Log: /var/log/ecslab-dockerd.log.
set -euo pipefail

LOG=/var/log/ecslab-dockerd.log
DATA=/var/lib/docker
CONFIG=/etc/docker/daemon.json
say() { printf '[engine] %s\n' "$*" >&2; }

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
dockerd_pid() { pgrep -x dockerd 2>/dev/null | head -n1 || true; }

has_cap() {  # has_cap BIT: the capability is in this process's effective set
    local hex
    hex=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
    (( (0x$hex >> $1) & 1 ))
}

mount_options() {  # mount_options MOUNTPOINT: "rw,..." or "ro,..." or empty
    awk -v m="$1" '$5 == m {print $6; exit}' /proc/self/mountinfo
}

cgroup_version() { [ -f /sys/fs/cgroup/cgroup.controllers ] && echo 2 || echo 1; }

missing_privileges() {  # prints what is missing, one item a line
    has_cap 21 || echo "CAP_SYS_ADMIN (mounts and namespaces for the inner containers)"
    has_cap 12 || echo "CAP_NET_ADMIN (the inner engine's bridge and iptables rules)"
    # Docker's default seccomp profile refuses keyctl, which runc needs for every inner container
    # ("unable to join session keyring"). Under a user namespace (sysbox) the runtime handles it.
    if [ "$(awk '/^Seccomp:/ {print $2}' /proc/self/status)" = 2 ] && grep -qE '^ *0 +0 +4294967295$' /proc/self/uid_map; then
        echo "an unconfined seccomp profile (the default one refuses what the inner containers need)"
    fi
    local where=/sys/fs/cgroup
    [ "$(cgroup_version)" = 1 ] && where=/sys/fs/cgroup/memory
    case "$(mount_options "$where")" in
        rw*) ;;
        *) echo "a writable cgroup file system at $where (read-only or absent)" ;;
    esac
}

explain_privileges() {
    cat >&2 <<'EOF'

  The course image runs its own Docker engine inside the container (Docker in Docker): it
  builds images and runs the ECS tasks of the course as real containers. A container gets no
  such rights by default. Start the course image with:

      docker run --privileged ...                  (Docker Desktop, most Linux hosts)
      docker compose up                            (compose.yaml sets privileged: true)

  Where --privileged is refused ("unable to apply caps: operation not permitted"), use
  instead of it:

      --cap-add SYS_ADMIN --cap-add NET_ADMIN \
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw

  Or, where the sysbox runtime is installed: --runtime=sysbox-runc (no --privileged needed).
  `bash scripts/course-image.sh run` picks what the host allows.
EOF
}

# Put the inner engine's containers under this container's own cgroup, so a memory or CPU limit
# on the course container holds for everything the learner runs inside it.
cgroup_parent() {
    if [ "$(cgroup_version)" = 2 ]; then
        local own
        own=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
        if [ "$own" = "/" ]; then
            # Private cgroup namespace (the default on cgroup v2): the whole tree seen here is the
            # container's own. Move our processes to a leaf and delegate every controller, as
            # docker's dind image does; dockerd's default parent (/docker) is then nested.
            mkdir -p /sys/fs/cgroup/init
            xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
            sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
                > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
        else
            say "cgroup v2 with the host's cgroup namespace ($own): not tested; inner containers may not nest under this one"
        fi
        return 0
    fi
    # cgroup v1: our cgroup as the memory controller names it, relative to what is mounted here
    # (the host's whole tree with -v /sys/fs/cgroup:/sys/fs/cgroup, only our own with --privileged).
    local own root
    own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
    root=$(awk '$5 == "/sys/fs/cgroup/memory" {print $4; exit}' /proc/self/mountinfo)
    [ -n "$own" ] || return 0
    if [ -n "$root" ] && [ "$root" != "/" ]; then
        own=${own#"$root"}
    fi
    echo "${own%/}/ecslab-inner"
}

write_config() {
    local parent="$1" driver="$2"
    mkdir -p /etc/docker
    {
        printf '{\n'
        [ -n "$driver" ] && printf '  "storage-driver": "%s",\n' "$driver"
        [ -n "$parent" ] && printf '  "cgroup-parent": "%s",\n' "$parent"
        printf '  "data-root": "%s"\n}\n' "$DATA"
    } > "$CONFIG"
}

start() {
    if engine_answers; then
        say "the engine is already running"
        return 0
    fi
    if [ -n "$(dockerd_pid)" ]; then
        say "dockerd runs (pid $(dockerd_pid)) but does not answer yet; waiting"
    else
        local missing
        missing=$(missing_privileges)
        if [ -n "$missing" ]; then
            say "this container cannot run a Docker engine; it lacks:"
            printf '%s\n' "$missing" | sed 's/^/[engine]   - /' >&2
            explain_privileges
            return 3
        fi
        # A stopped and restarted container keeps /run: stale pid files would stop dockerd.
        rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
        local driver="" fstype parent
        fstype=$(stat -f -c %T "$DATA" 2>/dev/null || echo unknown)
        if [ "$fstype" = overlayfs ]; then
            driver=vfs
            say "WARNING: $DATA is not a volume (it is on the image's own overlay), so overlay2 cannot work;"
            say "         using the vfs driver: slow, and every layer is a full copy on disk."
            say "         Start the container with a volume: -v ecslab-course-engine:$DATA"
        elif [ -f "$DATA/engine-driver" ]; then
            driver=$(cat "$DATA/engine-driver")  # keep the driver this data was made with
        fi
        parent=$(cgroup_parent)
        write_config "$parent" "$driver"
        say "starting dockerd (cgroup parent ${parent:-default}; log $LOG)"
        setsid dockerd >>"$LOG" 2>&1 < /dev/null &
    fi
    local i
    for i in $(seq 120); do
        engine_answers && break
        if [ -z "$(dockerd_pid)" ] && [ "$i" -gt 2 ]; then break; fi
        sleep 0.5
    done
    if ! engine_answers; then
        say "dockerd did not start. The end of its log ($LOG):"
        tail -n 15 "$LOG" | sed 's/^/[engine]   /' >&2
        if grep -qiE 'operation not permitted|permission denied|read-only file system' "$LOG"; then
            explain_privileges
        fi
        if grep -qiE 'no space left on device' "$LOG"; then
            say "the engine's volume ($DATA) is full: free space in it (docker system prune inside) or give it a bigger disk"
        fi
        return 4
    fi
    local used
    used=$(docker info --format '{{.Driver}}')
    [ -f "$DATA/engine-driver" ] || echo "$used" > "$DATA/engine-driver"
    if [ "$used" != overlay2 ]; then
        say "WARNING: the engine uses the $used storage driver, not overlay2 (slower, more disk)."
    fi
    local free_kb
    free_kb=$(df -Pk "$DATA" | awk 'NR == 2 {print $4}')
    if [ "${free_kb:-0}" -lt 2097152 ]; then
        say "WARNING: only $((free_kb / 1024)) MB free for the engine at $DATA; the course needs about 2 GB."
    fi
    say "ready: docker $(docker version --format '{{.Server.Version}}'), storage driver $used"
}

stop() {
    local pid
    pid=$(dockerd_pid)
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    say "dockerd did not stop within 30 s"
}

status() {
    if engine_answers; then
        echo "engine: running (pid $(dockerd_pid)), storage driver $(docker info --format '{{.Driver}}'), cgroup parent $(docker info --format '{{.CgroupDriver}}'):$(sed -n 's/.*"cgroup-parent": "\(.*\)".*/\1/p' "$CONFIG" 2>/dev/null)"
        df -h "$DATA" | awk 'NR == 2 {print "disk:   " $4 " free of " $2 " at '"$DATA"'"}'
    elif [ -n "$(dockerd_pid)" ]; then
        echo "engine: dockerd runs but does not answer; see $LOG"
        return 1
    else
        echo "engine: not running; start it with: ecslab-engine start   (log: $LOG)"
        return 1
    fi
}

case "${1:-status}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: ecslab-engine start|stop|status" >&2; exit 2 ;;
esac
