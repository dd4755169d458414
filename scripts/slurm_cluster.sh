#!/usr/bin/env bash
# A real Slurm cluster on this one machine, for tests/test_slurm.py: Debian's slurmctld and
# two slurmd daemons (nodes node1 and node2, each with the machine's CPUs), munge for
# authentication, no systemd, cgroups or accounting. Run as root.
#
#   bash scripts/slurm_cluster.sh install   # apt-get the packages (scripts/test.sh does this)
#   bash scripts/slurm_cluster.sh start     # config in $SLURM_TEST_DIR, daemons started
#   bash scripts/slurm_cluster.sh stop      # the daemons this script started, by their pids
#
# MinJobAge=4 lets `sbatch --wait` see a job end within seconds (the default, 300, makes it
# poll for most of a minute). Node names resolve through /etc/hosts, to 127.0.0.1.
set -euo pipefail

STATE=${SLURM_TEST_DIR:-/tmp/scaffold-slurm}
NODES=(node1 node2)

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

configure() {
    mkdir -p "$STATE"/{spool,ctld,log} /etc/slurm /run/munge
    local cpus memory
    cpus=$(nproc)
    memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    memory=$((memory / 2))  # two node daemons share the machine's memory
    cat >/etc/slurm/slurm.conf <<CONF
ClusterName=scaffold-test
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=17001
AuthType=auth/munge
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
KillWait=10
ReturnToService=2
NodeName=node1 NodeAddr=127.0.0.1 Port=17001 CPUs=$cpus RealMemory=$memory State=UNKNOWN
NodeName=node2 NodeAddr=127.0.0.1 Port=17002 CPUs=$cpus RealMemory=$memory State=UNKNOWN
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
    runuser -u munge -- munged --force
    slurmctld
    for node in "${NODES[@]}"; do
        slurmd -N "$node"
    done
    for _ in $(seq 60); do  # the nodes register with the controller within seconds
        if [[ $(sinfo --noheader --states=idle --format=%D 2>/dev/null) == 2 ]]; then
            echo "slurm_cluster: up (node1, node2; state in $STATE)" >&2
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
    for pidfile in "$STATE"/slurmd-*.pid "$STATE"/slurmctld.pid /run/munge/munged.pid; do
        [[ -f $pidfile ]] && pids+=("$(cat "$pidfile")")
        rm -f "$pidfile"
    done
    [[ ${#pids[@]} -eq 0 ]] && return 0
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 40); do  # gone before a restart binds the same ports
        kill -0 "${pids[@]}" 2>/dev/null || return 0
        sleep 0.25
    done
    echo "slurm_cluster: still running after 10 s: ${pids[*]}" >&2
    return 1
}

case ${1:-} in
    install | start | stop) "$1" ;;
    *) echo "usage: $0 install|start|stop" >&2 && exit 2 ;;
esac
