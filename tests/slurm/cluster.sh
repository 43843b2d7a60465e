#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# cluster.sh: a real Slurm cluster (Debian's Slurm 22.05) of 3 nodes on this
# one machine, for the tests in tests/slurm.
#
#   cluster.sh up        bring it up (idempotent: a healthy cluster is left as is,
#                        a broken or half-made one is torn down and made again)
#   cluster.sh down      tear it all down (idempotent)
#   cluster.sh status    exit 0 when up and every node answers; prints sinfo
#   cluster.sh exec [--user U] CMD...
#                        run CMD on the "login node" (the controller's network
#                        namespace) with SLURM_CONF set; as user U if given
#   cluster.sh node I [--user U] CMD...
#                        run CMD on node I (its network and UTS namespaces)
#   cluster.sh pids I    the pids of everything running on node I
#   cluster.sh kill-node I   SIGKILL to everything running on node I: slurmd,
#                        slurmstepd, the jobs (a node that dies without warning)
#   cluster.sh start-node I  start node I's slurmd (and sshd) again if not running
#   cluster.sh available exit 0 when a cluster can be made here, else 77 (said why)
#
# Layout: a network namespace tcslurm-sw holds a bridge br0 (10.234.0.254/24)
# and slurmctld (its UTS namespace named tcslurm-ctl); nodes tcsn1..tcsn3 are
# network namespaces tcslurm-n1..n3, each with a veth eth0 = 10.234.0.I on the
# bridge and a UTS namespace whose hostname is the node's name.  Daemons are
# started with nsenter --net --uts, not `ip netns exec`, which remounts /sys:
# slurmd 22.05 then fails looking for cgroups.  One slurm.conf serves every
# node (%n in SlurmdSpoolDir, SlurmdPidFile, SlurmdLogFile); one munged, with
# a key of the run and a socket of its own, serves all namespaces (a unix
# socket path is the same in every network namespace).  No cgroup plugin:
# proctrack/linuxproc and task/none.  cred_expire=10 lets a requeued job run
# again 11 s after it ended (Slurm's default is 120).  Each node also runs an
# sshd on its address (start_sshd), for jobs whose launcher is ssh.  Nothing
# touches the machine's own network: the bridge lives in a namespace of its own.
#
# Each node has a mount namespace of its own too, where $D/scratch is its
# own directory $D/local/nI: a node-local disk (everything else is shared).
#
# Everything is under $TC_SLURM_DIR (default /tmp/tc-slurm): conf, keys,
# state, spool, logs, pid files, namespace files.  Names and addresses
# differ from tests/multihost/hosts.sh (tcmh-*, 10.40-199.0.0/24).
set -u

D=${TC_SLURM_DIR:-/tmp/tc-slurm}
NODES=3
NET=10.234.0
SW=tcslurm-sw
CTL_NAME=tcslurm-ctl
CTL_IP=$NET.254

err() { echo "cluster.sh: $*" >&2; }
node_ns() { echo "tcslurm-n$1"; }
node_name() { echo "tcsn$1"; }

export SLURM_CONF=$D/slurm.conf

available()
{
	local b t=tcslurm-probe-$$
	if [[ $(id -u) != 0 ]]; then
		err "skip: not root (network namespaces and slurmd need root)"
		return 77
	fi
	for b in slurmctld slurmd munged sbatch scontrol nsenter unshare ip setpriv; do
		if ! command -v "$b" >/dev/null && [[ ! -x /usr/sbin/$b ]]; then
			err "skip: $b missing (scripts/setup installs slurmctld slurmd slurm-client munge)"
			return 77
		fi
	done
	if ! ip netns add "$t" 2>/dev/null; then
		err "skip: cannot create a network namespace"
		return 77
	fi
	if ! ip -n "$t" link add br0 type bridge 2>/dev/null ||
	   ! ip -n "$t" link add v0 type veth peer name v1 2>/dev/null; then
		ip netns del "$t"
		err "skip: cannot create a bridge or a veth pair in a namespace"
		return 77
	fi
	ip netns del "$t"
	if ! unshare --uts true 2>/dev/null; then
		err "skip: cannot create a UTS namespace"
		return 77
	fi
	return 0
}

# In the namespaces of node I (0: the controller's), CMD...
in_ns()
{
	local i=$1
	shift
	if ((i == 0)); then
		nsenter --net="/run/netns/$SW" --uts="$D/uts-ctl" -- "$@"
	else
		nsenter --net="/run/netns/$(node_ns "$i")" --uts="$D/uts-n$i" --mount="$D/mnt-n$i" -- "$@"
	fi
}

# The argv prefix (in USER_ARGV) that runs a command as user U, with the
# user's HOME and nothing of root's environment that would put the user's
# files in root's places.
user_argv()
{
	local u=$1 uid gid home
	uid=$(id -u "$u" 2>/dev/null) && gid=$(id -g "$u") || { err "no user $u"; return 1; }
	home=$(getent passwd "$u" | cut -d: -f6)
	USER_ARGV=(setpriv --reuid="$uid" --regid="$gid" --init-groups
		   env -u XDG_RUNTIME_DIR -u XDG_CONFIG_HOME HOME="$home" USER="$u" LOGNAME="$u"
		   SLURM_CONF="$SLURM_CONF")
}

write_conf()
{
	local i
	cat >"$D/slurm.conf" <<-EOF
	# written by tests/slurm/cluster.sh
	ClusterName=tcslurm
	SlurmctldHost=$CTL_NAME($CTL_IP)
	SlurmUser=root
	SlurmdUser=root
	AuthType=auth/munge
	CredType=cred/munge
	AuthInfo=socket=$D/munge/munge.socket,cred_expire=10
	StateSaveLocation=$D/ctld
	SlurmdSpoolDir=$D/spool/%n
	SlurmdPidFile=$D/run/slurmd-%n.pid
	SlurmdLogFile=$D/log/slurmd-%n.log
	SlurmctldPidFile=$D/run/slurmctld.pid
	SlurmctldLogFile=$D/log/slurmctld.log
	PlugStackConfig=$D/plugstack.conf
	ProctrackType=proctrack/linuxproc
	TaskPlugin=task/none
	JobAcctGatherType=jobacct_gather/none
	AccountingStorageType=accounting_storage/none
	JobCompType=jobcomp/none
	MpiDefault=none
	SwitchType=switch/none
	SchedulerType=sched/builtin
	SelectType=select/cons_tres
	SelectTypeParameters=CR_CPU
	ReturnToService=2
	SlurmctldTimeout=10
	SlurmdTimeout=10
	MessageTimeout=5
	KillWait=5
	InactiveLimit=0
	MinJobAge=600
	JobRequeue=1
	MailProg=/bin/true
	SlurmctldDebug=info
	SlurmdDebug=info
	EOF
	for ((i = 1; i <= NODES; i++)); do
		echo "NodeName=$(node_name "$i") NodeAddr=$NET.$i CPUs=1 State=UNKNOWN"
	done >>"$D/slurm.conf"
	echo "PartitionName=test Nodes=tcsn[1-$NODES] Default=YES MaxTime=INFINITE State=UP" \
		>>"$D/slurm.conf"
	: >"$D/plugstack.conf"
	chmod 0644 "$D/slurm.conf" "$D/plugstack.conf"
}

pid_alive()
{
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ ${st:0:1} != Z ]]
}

pidfile_alive()
{
	local p
	p=$(cat "$1" 2>/dev/null) && [[ $p =~ ^[0-9]+$ ]] && pid_alive "$p"
}

# Wait for a file to be non-empty, up to 10 s.
wait_file()
{
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -s $1 ]] && return 0
		sleep 0.05
	done
	return 1
}

# 0 when every node is idle, allocated or mixed (answers slurmctld).
nodes_ready()
{
	local out
	out=$(in_ns 0 sinfo -h -N -o '%N %T' 2>/dev/null) || return 1
	[[ $(grep -cE ' (idle|allocated|mixed|completing)$' <<<"$out") == "$NODES" ]]
}

start_node()
{
	local i=$1
	in_ns "$i" /usr/sbin/slurmd -f "$SLURM_CONF" -N "$(node_name "$i")" ||
		{ err "slurmd of $(node_name "$i") did not start: $D/log/slurmd-$(node_name "$i").log"; return 1; }
	wait_file "$D/run/slurmd-$(node_name "$i").pid" ||
		{ err "slurmd of $(node_name "$i") wrote no pid file"; return 1; }
}

# sshd on node I, in its namespaces: the job's user may log in to the nodes
# of its job with a key, as pam_slurm_adopt allows on real clusters; mpirun's
# ssh launcher and restore --all-hosts use it.  A test authorizes a user's
# key in $D/ssh/authorized_keys_USER and gives it an ssh config in
# $D/ssh/config-USER, which $D/ssh/bin/ssh (first in PATH in ssh sessions)
# uses; $D/ssh/ssh_config names every node's address (the node names
# resolve nowhere else).  Nothing without sshd.
start_sshd()
{
	local i=$1 j conf=$D/ssh/sshd_config-n$1 pid=$D/run/sshd-n$1.pid
	[[ -x /usr/sbin/sshd ]] || return 0
	pidfile_alive "$pid" && return 0
	mkdir -p "$D/ssh" && chmod 0755 "$D/ssh" || return 1
	[[ -d /run/sshd ]] || mkdir -m 0755 /run/sshd || return 1
	if [[ ! -s $D/ssh/host_key ]]; then
		ssh-keygen -q -t ed25519 -N '' -C tcslurm -f "$D/ssh/host_key" || return 1
	fi
	if [[ ! -s $D/ssh/ssh_config ]]; then
		for ((j = 1; j <= NODES; j++)); do
			printf 'Host %s\n    HostName %s\n' "$(node_name "$j")" "$NET.$j"
		done >"$D/ssh/ssh_config"
		cat >>"$D/ssh/ssh_config" <<-EOF
		Host *
		    IdentitiesOnly yes
		    UserKnownHostsFile /dev/null
		    GlobalKnownHostsFile /dev/null
		    StrictHostKeyChecking no
		    CheckHostIP no
		    BatchMode yes
		    LogLevel ERROR
		    ConnectTimeout 10
		EOF
		chmod 0644 "$D/ssh/ssh_config"
	fi
	# The users' ssh, on every node: a test gives a user its key and config
	# in $D/ssh/config-USER (a shared home's ~/.ssh on a real cluster).
	if [[ ! -x $D/ssh/bin/ssh ]]; then
		mkdir -p "$D/ssh/bin" || return 1
		cat >"$D/ssh/bin/ssh" <<-EOF
		#!/bin/sh
		c=$D/ssh/config-\$(id -un)
		[ -r "\$c" ] && exec /usr/bin/ssh -F "\$c" "\$@"
		exec /usr/bin/ssh "\$@"
		EOF
		chmod 0755 "$D/ssh/bin" "$D/ssh/bin/ssh" || return 1
	fi
	cat >"$conf" <<-EOF
	# written by tests/slurm/cluster.sh for $(node_name "$i")
	ListenAddress $NET.$i:22
	HostKey $D/ssh/host_key
	PidFile $pid
	AuthorizedKeysFile $D/ssh/authorized_keys_%u
	PermitRootLogin no
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	UseDNS no
	PrintMotd no
	PrintLastLog no
	X11Forwarding no
	MaxStartups 100
	AcceptEnv LANG LC_* OMPI_* PMIX_*
	SetEnv PATH=$D/ssh/bin:/usr/local/bin:/usr/bin:/bin
	LogLevel INFO
	EOF
	rm -f "$pid"
	in_ns "$i" /usr/sbin/sshd -f "$conf" -E "$D/log/sshd-$(node_name "$i").log" ||
		{ err "sshd of $(node_name "$i") did not start: $D/log/sshd-$(node_name "$i").log"; return 1; }
	wait_file "$pid" || { err "sshd of $(node_name "$i") wrote no pid file"; return 1; }
}

up_inner()
{
	local i ns

	mkdir -p "$D"/{munge,ctld,spool,run,log,scratch} || return 1
	chmod 0755 "$D" "$D/log" "$D/run"
	chmod 0700 "$D/ctld"
	# slurmd copies each batch script below it; the job's user executes it
	chmod 0755 "$D/spool"
	# munged wants its socket directory sticky or not writable by others,
	# and its key the daemon's own and private.
	chmod 0755 "$D/munge"
	dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none || return 1
	chmod 0400 "$D/munge/munge.key"
	/usr/sbin/munged --force --socket="$D/munge/munge.socket" --key-file="$D/munge/munge.key" \
		--pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" \
		--seed-file="$D/munge/munged.seed" ||
		{ err "munged did not start: $D/log/munged.log"; return 1; }
	wait_file "$D/run/munged.pid" || { err "munged wrote no pid file"; return 1; }
	write_conf || return 1

	ip netns add "$SW" || return 1
	ip -n "$SW" link set lo up || return 1
	ip -n "$SW" link add br0 type bridge || return 1
	ip -n "$SW" addr add "$CTL_IP/24" dev br0 || return 1
	ip -n "$SW" link set br0 up || return 1
	: >"$D/uts-ctl" && unshare --uts="$D/uts-ctl" hostname "$CTL_NAME" || return 1
	for ((i = 1; i <= NODES; i++)); do
		ns=$(node_ns "$i")
		ip netns add "$ns" || return 1
		ip -n "$SW" link add "p$i" type veth peer name eth0 netns "$ns" || return 1
		ip -n "$SW" link set "p$i" master br0 up || return 1
		ip -n "$ns" link set lo up || return 1
		ip -n "$ns" addr add "$NET.$i/24" dev eth0 || return 1
		ip -n "$ns" link set eth0 up || return 1
		: >"$D/uts-n$i" && unshare --uts="$D/uts-n$i" hostname "$(node_name "$i")" || return 1
		# A disk of the node's own: $D/scratch is $D/local/nI there.
		mkdir -p "$D/local/n$i" && chmod 1777 "$D/local/n$i" || return 1
		: >"$D/mnt-n$i" && unshare --mount="$D/mnt-n$i" --propagation private \
			mount --bind "$D/local/n$i" "$D/scratch" || return 1
	done

	in_ns 0 /usr/sbin/slurmctld -f "$SLURM_CONF" ||
		{ err "slurmctld did not start: $D/log/slurmctld.log"; return 1; }
	wait_file "$D/run/slurmctld.pid" || { err "slurmctld wrote no pid file"; return 1; }
	for ((i = 1; i <= NODES; i++)); do
		start_node "$i" || return 1
		start_sshd "$i" || return 1
	done
	for ((i = 0; i < 300; i++)); do
		nodes_ready && return 0
		sleep 0.1
	done
	err "the nodes did not come up in 30 s:"
	in_ns 0 sinfo -N >&2
	return 1
}

# Every pid in one of our network namespaces, and the daemons by pid file.
our_pids()
{
	local ns f
	for ns in "$SW" $(for ((i = 1; i <= NODES; i++)); do node_ns "$i"; done); do
		[[ -e /run/netns/$ns ]] && ip netns pids "$ns" 2>/dev/null
	done
	for f in "$D"/run/*.pid; do
		[[ -e $f ]] && cat "$f" 2>/dev/null
	done
}

down()
{
	local pids=() p i left ns
	# shellcheck disable=SC2207 # one pid a line
	pids=($(our_pids | sort -un))
	if ((${#pids[@]})); then
		kill -TERM "${pids[@]}" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			left=
			for p in "${pids[@]}"; do
				pid_alive "$p" && left=1
			done
			[[ -z $left ]] && break
			sleep 0.05
		done
		[[ -n $left ]] && kill -KILL "${pids[@]}" 2>/dev/null
	fi
	for ns in "$SW" $(for ((i = 1; i <= NODES; i++)); do node_ns "$i"; done); do
		[[ -e /run/netns/$ns ]] && { ip netns del "$ns" || err "cannot delete namespace $ns"; }
	done
	if [[ -d $D ]]; then
		for p in "$D"/uts-* "$D"/mnt-*; do
			[[ -e $p ]] && mountpoint -q "$p" && umount "$p"
		done
		rm -rf "$D"
	fi
	return 0
}

status()
{
	local i ok=0
	if [[ ! -e $D/slurm.conf ]]; then
		echo "down"
		return 1
	fi
	pidfile_alive "$D/run/munged.pid" || { echo "munged: not running"; ok=1; }
	pidfile_alive "$D/run/slurmctld.pid" || { echo "slurmctld: not running"; ok=1; }
	for ((i = 1; i <= NODES; i++)); do
		pidfile_alive "$D/run/slurmd-$(node_name "$i").pid" ||
			{ echo "slurmd $(node_name "$i"): not running"; ok=1; }
	done
	((ok == 0)) || return 1
	in_ns 0 sinfo -N -o '%N %T %c' || return 1
	nodes_ready
}

up()
{
	if status >/dev/null 2>&1; then
		echo "cluster.sh: up already ($D)"
		return 0
	fi
	down
	if ! up_inner; then
		err "bringing the cluster up failed; logs in $D/log; tearing down (TC_SLURM_KEEP=1 keeps it)"
		[[ -n ${TC_SLURM_KEEP:-} ]] || down
		return 1
	fi
	echo "cluster.sh: up: nodes tcsn1..tcsn$NODES ($NET.1-$NODES), controller $CTL_NAME ($CTL_IP), SLURM_CONF=$SLURM_CONF"
}

main()
{
	local cmd=${1:-} user='' i
	(($#)) && shift
	case $cmd in
	available) available ;;
	up) available || return; up ;;
	down) down ;;
	status) status ;;
	exec | node)
		if [[ $cmd == node ]]; then
			i=${1:-}
			[[ $i =~ ^[1-9]$ ]] && ((i <= NODES)) || { err "node 1..$NODES"; return 2; }
			shift
		else
			i=0
		fi
		if [[ ${1:-} == --user ]]; then
			user=$2
			shift 2
		fi
		(($#)) || { err "usage: cluster.sh $cmd ... CMD..."; return 2; }
		USER_ARGV=()
		if [[ -n $user ]]; then
			user_argv "$user" || return 1
		fi
		in_ns "$i" "${USER_ARGV[@]}" "$@"
		;;
	pids | kill-node | start-node)
		i=${1:-}
		[[ $i =~ ^[1-9]$ && -e /run/netns/$(node_ns "$i") ]] || { err "node 1..$NODES, up"; return 2; }
		case $cmd in
		pids) ip netns pids "$(node_ns "$i")" ;;
		kill-node)
			# shellcheck disable=SC2046 # one pid a line
			kill -KILL $(ip netns pids "$(node_ns "$i")") 2>/dev/null
			return 0
			;;
		start-node)
			start_sshd "$i" || return 1
			pidfile_alive "$D/run/slurmd-$(node_name "$i").pid" && return 0
			rm -f "$D/run/slurmd-$(node_name "$i").pid"
			start_node "$i"
			;;
		esac
		;;
	*)
		err "usage: cluster.sh up|down|status|available|exec [--user U] CMD...|node I [--user U] CMD...|pids I|kill-node I|start-node I"
		return 2
		;;
	esac
}

main "$@"
