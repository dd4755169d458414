#!/usr/bin/env bash
# A real Slurm cluster on this one machine, for tests/test_slurm.py: Debian's slurmctld and
# two slurmd daemons (nodes node1 and node2, each with the machine's CPUs), munge for
# authentication, no systemd, cgroups or accounting. Run as root.
#
#   bash scripts/slurm_cluster.sh install   # apt-get the packages (scripts/test.sh does this)
#   bash scripts/slurm_cluster.sh start     # config in $SLURM_TEST_DIR, daemons started
#   bash scripts/slurm_cluster.sh stop      # the daemons this script started, by their pids
#
# Each cluster is its own: its slurm.conf is $SLURM_TEST_DIR/slurm.conf (clients and jobs find
# it through SLURM_CONF), its ports are free ones picked at start, and it has a munged of its
# own. So two test processes can each run one at once, and stopping one leaves the other be.
# MinJobAge=4 lets `sbatch --wait` see a job end within seconds (the default, 300, makes it
# poll for most of a minute). Node names resolve through /etc/hosts, to 127.0.0.1.
set -euo pipefail

STATE=${SLURM_TEST_DIR:-/tmp/scaffold-slurm}
NODES=(node1 node2)
export SLURM_CONF=$STATE/slurm.conf
# munged runs as the munge user, who cannot enter root's temporary folders: its files live in
# /run/munge, named after this cluster's state folder.
MUNGE=/run/munge/scaffold-$(printf %s "$STATE" | md5sum | cut -c1-12)

install() {
    local missing=""
    for tool in slurmctld slurmd sbatch munged; do
        command -v "$tool" >/dev/null || missing=1
    done
    if [[ -n $missing ]]; then
        echo "slurm_cluster: installing slurmctld slurmd slurm-client munge with apt-get" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            slurmctld slurmd slurm-client munge >/dev/null
    fi
}

free_ports() {  # N loopback ports that nothing listens on now
    python3 - "$1" <<'PY'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in sockets))
PY
}

configure() {
    mkdir -p "$STATE"/{spool,ctld,log} /run/munge
    local cpus memory ports first_job
    cpus=$(nproc)
    memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    memory=$((memory / 2))  # two node daemons share the machine's memory
    mapfile -t ports < <(free_ports 3)
    # A job's torchrun meets on port 20000 + job id % 20000 (slurm/common.sh): job ids from a
    # random one of 240 ranges keep two clusters running side by side apart, and the ports
    # below 32768, where Linux's ephemeral ports (the daemons' above) begin.
    first_job=$((RANDOM % 240 * 50 + 1))
    cat >"$SLURM_CONF" <<CONF
ClusterName=scaffold-test
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=${ports[0]}
AuthType=auth/munge
AuthInfo=socket=$MUNGE.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool/%n
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd-%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd-%n.log
MinJobAge=4
FirstJobId=$first_job
KillWait=10
ReturnToService=2
NodeName=node1 NodeAddr=127.0.0.1 Port=${ports[1]} CPUs=$cpus RealMemory=$memory State=UNKNOWN
NodeName=node2 NodeAddr=127.0.0.1 Port=${ports[2]} CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
    for node in "${NODES[@]}"; do
        grep -qw "$node" /etc/hosts || echo "127.0.0.1 $node" >>/etc/hosts
    done
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown -R munge:munge /etc/munge /run/munge
    chmod 400 /etc/munge/munge.key
}

start() {
    install
    stop
    configure
    runuser -u munge -- munged --force --socket="$MUNGE.socket" --pid-file="$MUNGE.pid" \
        --log-file="$MUNGE.log" --seed-file="$MUNGE.seed"
    slurmctld
    for node in "${NODES[@]}"; do
        slurmd -N "$node"
    done
    for _ in $(seq 60); do  # the nodes register with the controller within seconds
        if [[ $(sinfo --noheader --states=idle --format=%D 2>/dev/null) == 2 ]]; then
            echo "slurm_cluster: up (node1, node2); export SLURM_CONF=$SLURM_CONF" >&2
            return 0
        fi
        sleep 0.5
    done
    echo "slurm_cluster: the nodes did not come up; logs in $STATE/log" >&2
    sinfo >&2 || true
    return 1
}

stop() {
    local pidfile pids=()
    if [[ -f $STATE/slurmctld.pid ]]; then  # a job left running would outlive its daemons
        scancel --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 60); do
            [[ -z $(squeue --noheader 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
    local pidfiles=("$STATE"/slurmd-*.pid "$STATE"/slurmctld.pid "$MUNGE.pid")
    for pidfile in "${pidfiles[@]}"; do
        [[ -f $pidfile ]] && pids+=("$(cat "$pidfile")")
    done
    if [[ ${#pids[@]} -gt 0 ]]; then
        kill "${pids[@]}" 2>/dev/null || true
        for _ in $(seq 40); do
            kill -0 "${pids[@]}" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "${pids[@]}" 2>/dev/null; then  # their pid files stay, for another try
            echo "slurm_cluster: still running after 10 s: ${pids[*]}" >&2
            return 1
        fi
    fi
    rm -f "${pidfiles[@]}" "$MUNGE.log" "$MUNGE.seed"  # munged writes its seed as it exits
}

case ${1:-} in
    install | start | stop) "$1" ;;
    *) echo "usage: $0 install|start|stop" >&2 && exit 2 ;;
esac
