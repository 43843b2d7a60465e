#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# hosts.sh: test "hosts" for the multi-host tests.  A host is a network
# namespace PREFIX<i> (i = 1..N) with its own UTS namespace (hostname
# PREFIX<i>), an interface eth0 = 10.OCTET.0.<i>/24 and its own sshd on
# 10.OCTET.0.<i>:22.  The hosts' eth0 are veth pairs whose other ends sit on a
# bridge br0 in a "switch" namespace PREFIX-sw, so the machine's own network
# is not touched.  Two sets with different prefixes and octets can be up at
# once (restore onto other hosts with other addresses).
#
# CLI:
#   hosts.sh up PREFIX N OCTET     bring up PREFIX1..PREFIXN on 10.OCTET.0.0/24
#   hosts.sh down PREFIX           tear it all down (kills what runs inside)
#   hosts.sh exec PREFIX I CMD...  run CMD on host I (netns + UTS namespace)
#   hosts.sh check PREFIX          ssh from every host to every host
#   hosts.sh info PREFIX           state dir, names, addresses
#   hosts.sh available             exit 0 if hosts can be made here, else 77
#
# Library (source it):
#   hosts_up PREFIX N OCTET; hosts_down PREFIX; host_exec I CMD...
#   host_ns I; host_ip I; hosts_state [PREFIX]; hosts_check [PREFIX]
#   host_exec/host_ns/host_ip act on $TCMH_PREFIX (set by the last hosts_up);
#   hosts_exec PREFIX I CMD... names the set explicitly.
#
# Per run, in the state dir ($TCMH_STATE_ROOT, default /tmp, /tcmh.PREFIX):
#   id_ed25519{,.pub}     the client key (no passphrase), authorized on every host
#                         for root (authorized_keys_root; a test may add
#                         authorized_keys_USER for an ordinary user)
#   ssh_config            IdentityFile, no known_hosts, BatchMode, LogLevel ERROR
#   bin/ssh, bin/scp      wrappers: exec /usr/bin/ssh -F STATE/ssh_config "$@"
#   h<i>/                 sshd_config, host key, sshd.pid, sshd.log, uts (nsfs)
# Inside the hosts, plain `ssh` works too: /etc/netns/PREFIX<i>/ssh/ssh_config
# and /etc/netns/PREFIX<i>/hosts are bind-mounted over /etc/ssh and
# /etc/hosts by `ip netns exec` (so every host resolves PREFIX1..PREFIXN),
# and ssh sessions get PATH=STATE/bin:... and TCMH_HOST, TCMH_STATE.
#
# Needs root, iproute2, util-linux (unshare, nsenter) and openssh-server
# (installed with apt-get if /usr/sbin/sshd is missing).

TCMH_STATE_ROOT=${TCMH_STATE_ROOT:-/tmp}
TCMH_SSHD=${TCMH_SSHD:-/usr/sbin/sshd}
TCMH_PREFIX=${TCMH_PREFIX:-}
TCMH_NO_CHECK=${TCMH_NO_CHECK:-}

_tcmh_err() { echo "hosts.sh: $*" >&2; }

# Run a command; on failure say which one and return 1.
_tcmh_do()
{
	"$@" && return 0
	_tcmh_err "failed: $*"
	return 1
}

_tcmh_check_prefix()
{
	if [[ ! $1 =~ ^[a-z][a-z0-9-]{0,19}$ || $1 =~ [0-9]$ ]]; then
		_tcmh_err "bad prefix '$1': [a-z][a-z0-9-]*, at most 20 characters, not ending in a digit"
		return 1
	fi
}

# A pid is alive until it is a zombie: PID 1 here may reap late.
_tcmh_alive()
{
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ ${st:0:1} != Z ]]
}

hosts_state() { echo "$TCMH_STATE_ROOT/tcmh.${1:-$TCMH_PREFIX}"; }
hosts_ns() { echo "$1$2"; }
hosts_ip() {
	local octet
	octet=$(sed -n 's/^TCMH_OCTET=//p' "$(hosts_state "$1")/conf" 2>/dev/null)
	[[ -n $octet ]] || { _tcmh_err "set '$1' is not up"; return 1; }
	echo "10.$octet.0.$2"
}
hosts_n() { sed -n 's/^TCMH_N=//p' "$(hosts_state "$1")/conf" 2>/dev/null; }
host_ns() { hosts_ns "$TCMH_PREFIX" "$1"; }
host_ip() { hosts_ip "$TCMH_PREFIX" "$1"; }
hosts_bindir() { echo "$(hosts_state "${1:-$TCMH_PREFIX}")/bin"; }

# Run CMD on host I of set PREFIX: in its network and UTS namespaces, with
# the per-namespace /etc/hosts and /etc/ssh (ip netns exec binds them).
hosts_exec()
{
	local prefix=$1 i=$2 state
	shift 2
	state=$(hosts_state "$prefix")
	ip netns exec "$prefix$i" nsenter --uts="$state/h$i/uts" -- "$@"
}

host_exec()
{
	local i=$1
	shift
	hosts_exec "$TCMH_PREFIX" "$i" "$@"
}

# 0 when this machine can make hosts (root, netns, veth, bridge), else 1.
hosts_available()
{
	local t=tcmh-probe-$$
	[[ $(id -u) == 0 ]] || { _tcmh_err "not root"; return 1; }
	if ! command -v ip >/dev/null || ! command -v nsenter >/dev/null ||
	   ! command -v unshare >/dev/null; then
		_tcmh_err "ip, nsenter or unshare missing"
		return 1
	fi
	if ! ip netns add "$t" 2>/dev/null; then
		_tcmh_err "cannot create a network namespace"
		return 1
	fi
	if ! ip -n "$t" link add br0 type bridge 2>/dev/null ||
	   ! ip -n "$t" link add v0 type veth peer name v1 2>/dev/null; then
		ip netns del "$t"
		_tcmh_err "cannot create a bridge or a veth pair in a namespace"
		return 1
	fi
	ip netns del "$t"
	unshare --uts true 2>/dev/null || { _tcmh_err "cannot create a UTS namespace"; return 1; }
	return 0
}

# Make sure sshd and its privilege separation directory exist.
_tcmh_need_sshd()
{
	if [[ ! -x $TCMH_SSHD ]]; then
		echo "hosts.sh: installing openssh-server" >&2
		DEBIAN_FRONTEND=noninteractive apt-get -y -q install openssh-server >&2 ||
			{ apt-get -q update >&2 &&
			  DEBIAN_FRONTEND=noninteractive apt-get -y -q install openssh-server >&2; } ||
			{ _tcmh_err "cannot install openssh-server"; return 1; }
	fi
	if ! command -v ssh-keygen >/dev/null || [[ ! -x /usr/bin/ssh ]]; then
		_tcmh_err "ssh or ssh-keygen missing (openssh-client)"
		return 1
	fi
	# sshd refuses to start without it; systemd would make it, we may
	# have to.  The marker says we made it, so hosts_down may remove it.
	if [[ ! -d /run/sshd ]]; then
		mkdir -m 0755 /run/sshd && : >/run/sshd/.tcmh-made || return 1
	fi
}

_tcmh_up_inner()
{
	local prefix=$1 n=$2 octet=$3 state=$4 sw=$1-sw i j ns ip

	_tcmh_need_sshd || return 1
	_tcmh_do ssh-keygen -q -t ed25519 -N '' -C "tcmh-$prefix" -f "$state/id_ed25519" || return 1
	# One file per user: a key authorized for a test user is no key to root.
	cp "$state/id_ed25519.pub" "$state/authorized_keys_root" || return 1
	cat >"$state/ssh_config" <<-EOF
	# written by tests/multihost/hosts.sh for the set $prefix
	Host *
	    User root
	    IdentityFile $state/id_ed25519
	    IdentitiesOnly yes
	    UserKnownHostsFile /dev/null
	    GlobalKnownHostsFile /dev/null
	    StrictHostKeyChecking no
	    CheckHostIP no
	    BatchMode yes
	    LogLevel ERROR
	    ConnectTimeout 10
	    AddressFamily inet
	EOF
	mkdir -p "$state/bin" || return 1
	printf '#!/bin/sh\nexec /usr/bin/ssh -F %s/ssh_config "$@"\n' "$state" >"$state/bin/ssh"
	printf '#!/bin/sh\nexec /usr/bin/scp -F %s/ssh_config "$@"\n' "$state" >"$state/bin/scp"
	chmod 0755 "$state/bin/ssh" "$state/bin/scp" || return 1

	# the switch
	_tcmh_do ip netns add "$sw" || return 1
	_tcmh_do ip -n "$sw" link set lo up || return 1
	_tcmh_do ip -n "$sw" link add br0 type bridge || return 1
	_tcmh_do ip -n "$sw" link set br0 up || return 1

	# /etc/hosts for every host of the set
	{
		echo "127.0.0.1 localhost"
		echo "::1 localhost ip6-localhost ip6-loopback"
		for ((j = 1; j <= n; j++)); do
			echo "10.$octet.0.$j $prefix$j"
		done
	} >"$state/hosts" || return 1
	if [[ ! -d /etc/netns ]]; then
		mkdir -p /etc/netns && : >/etc/netns/.tcmh-made || return 1
	fi

	for ((i = 1; i <= n; i++)); do
		ns=$prefix$i
		ip=10.$octet.0.$i
		mkdir -p "$state/h$i" || return 1
		_tcmh_do ip netns add "$ns" || return 1
		_tcmh_do ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$ns" || return 1
		_tcmh_do ip -n "$sw" link set "p$i" master br0 up || return 1
		_tcmh_do ip -n "$ns" link set lo up || return 1
		_tcmh_do ip -n "$ns" addr add "$ip/24" dev eth0 || return 1
		_tcmh_do ip -n "$ns" link set eth0 up || return 1

		mkdir -p "/etc/netns/$ns/ssh" || return 1
		cp "$state/hosts" "/etc/netns/$ns/hosts" || return 1
		cp "$state/ssh_config" "/etc/netns/$ns/ssh/ssh_config" || return 1

		# a persistent UTS namespace with the host's name
		: >"$state/h$i/uts" || return 1
		_tcmh_do unshare --uts="$state/h$i/uts" hostname "$ns" || return 1

		_tcmh_do ssh-keygen -q -t ed25519 -N '' -C "$ns" \
			-f "$state/h$i/ssh_host_ed25519_key" || return 1
		cat >"$state/h$i/sshd_config" <<-EOF
		# written by tests/multihost/hosts.sh for $ns
		ListenAddress $ip:22
		HostKey $state/h$i/ssh_host_ed25519_key
		PidFile $state/h$i/sshd.pid
		AuthorizedKeysFile $state/authorized_keys_%u
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		UseDNS no
		PrintMotd no
		PrintLastLog no
		X11Forwarding no
		MaxStartups 200
		MaxSessions 100
		AcceptEnv LANG LC_* TCMH_* OMPI_* PMIX_*
		SetEnv TCMH_HOST=$ns TCMH_STATE=$state PATH=$state/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		Subsystem sftp internal-sftp
		LogLevel INFO
		EOF
		# sshd binds, then daemonises, then writes its pid file
		_tcmh_do hosts_exec "$prefix" "$i" "$TCMH_SSHD" -f "$state/h$i/sshd_config" \
			-E "$state/h$i/sshd.log" || { cat "$state/h$i/sshd.log" >&2; return 1; }
	done

	for ((i = 1; i <= n; i++)); do
		for ((j = 0; j < 100; j++)); do
			[[ -s $state/h$i/sshd.pid ]] && break
			sleep 0.02
		done
		[[ -s $state/h$i/sshd.pid ]] || { _tcmh_err "sshd of $prefix$i wrote no pid file"; return 1; }
	done
	[[ -n $TCMH_NO_CHECK ]] || hosts_check "$prefix" || return 1
	return 0
}

# hosts_up PREFIX N OCTET: on failure everything made so far is torn down.
hosts_up()
{
	local prefix=$1 n=$2 octet=$3 state ns

	if [[ $# -ne 3 || ! $n =~ ^[0-9]+$ || ! $octet =~ ^[0-9]+$ ]] ||
	   ((n < 1 || n > 250 || octet > 255)); then
		_tcmh_err "usage: hosts_up PREFIX N(1..250) OCTET(0..255)"
		return 1
	fi
	_tcmh_check_prefix "$prefix" || return 1
	state=$(hosts_state "$prefix")
	if [[ -e $state ]]; then
		_tcmh_err "$state exists: the set '$prefix' is up (or was left behind): hosts.sh down $prefix"
		return 1
	fi
	for ns in $(ip netns list | awk '{print $1}'); do
		if [[ $ns == "$prefix-sw" || $ns =~ ^${prefix}[0-9]+$ ]]; then
			_tcmh_err "namespace $ns exists already: hosts.sh down $prefix"
			return 1
		fi
	done
	mkdir -p "$TCMH_STATE_ROOT" && mkdir -m 0700 "$state" || return 1
	printf 'TCMH_PREFIX=%s\nTCMH_N=%s\nTCMH_OCTET=%s\n' "$prefix" "$n" "$octet" >"$state/conf"
	if ! _tcmh_up_inner "$prefix" "$n" "$octet" "$state"; then
		_tcmh_err "bringing up '$prefix' failed; tearing down"
		hosts_down "$prefix"
		return 1
	fi
	TCMH_PREFIX=$prefix
	return 0
}

# ssh from every host to every host of the set (the first host to all when
# there are more than 4), checking hostname and TCMH_HOST.
hosts_check()
{
	local prefix=${1:-$TCMH_PREFIX} n i j from out ok=0 pids=() tmp
	n=$(hosts_n "$prefix")
	[[ -n $n ]] || { _tcmh_err "set '$prefix' is not up"; return 1; }
	tmp=$(hosts_state "$prefix")/check
	mkdir -p "$tmp"
	for ((i = 1; i <= n; i++)); do
		for ((j = 1; j <= n; j++)); do
			((n > 4 && i > 1)) && continue
			# shellcheck disable=SC2016 # expanded on the remote host
			hosts_exec "$prefix" "$i" ssh "$prefix$j" 'echo $(hostname) $TCMH_HOST' \
				>"$tmp/$i-$j" 2>&1 &
			pids+=($!)
		done
	done
	for from in "${pids[@]}"; do
		wait "$from" || ok=1
	done
	for ((i = 1; i <= n; i++)); do
		for ((j = 1; j <= n; j++)); do
			((n > 4 && i > 1)) && continue
			out=$(<"$tmp/$i-$j")
			if [[ $out != "$prefix$j $prefix$j" ]]; then
				_tcmh_err "ssh $prefix$i -> $prefix$j: got '$out'"
				ok=1
			fi
		done
	done
	rm -rf "$tmp"
	return $ok
}

# Kill (by pid) what runs in the namespaces of the set, delete them, the
# /etc/netns entries, the UTS namespace files and the state dir.  Works on a
# half-made set too.
hosts_down()
{
	local prefix=$1 state ns nss=() pids=() p i
	_tcmh_check_prefix "$prefix" || return 1
	state=$(hosts_state "$prefix")
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $ns == "$prefix-sw" || $ns =~ ^${prefix}[0-9]+$ ]] && nss+=("$ns")
	done
	for ns in "${nss[@]}"; do
		# shellcheck disable=SC2207 # pids: one number a line
		pids+=($(ip netns pids "$ns" 2>/dev/null))
	done
	if ((${#pids[@]})); then
		kill -TERM "${pids[@]}" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			p=
			for ns in "${pids[@]}"; do
				_tcmh_alive "$ns" && p=1
			done
			[[ -z $p ]] && break
			sleep 0.05
		done
		[[ -n $p ]] && kill -KILL "${pids[@]}" 2>/dev/null
	fi
	for ns in "${nss[@]}"; do
		ip netns del "$ns" || _tcmh_err "cannot delete namespace $ns"
	done
	for ns in "${nss[@]}"; do
		[[ $ns == "$prefix-sw" ]] || rm -rf "/etc/netns/$ns"
	done
	if [[ -e /etc/netns/.tcmh-made ]]; then
		p=
		for i in /etc/netns/* /etc/netns/.[!.]*; do
			[[ -e $i && $i != /etc/netns/.tcmh-made ]] && p=1
		done
		[[ -z $p ]] && rm -f /etc/netns/.tcmh-made && rmdir /etc/netns
	fi
	if [[ -d $state ]]; then
		for p in "$state"/h*/uts; do
			[[ -e $p ]] && mountpoint -q "$p" && umount "$p"
		done
		rm -rf "$state"
	fi
	if [[ -e /run/sshd/.tcmh-made ]]; then
		p=
		for i in $(pgrep -x sshd); do
			_tcmh_alive "$i" && p=1
		done
		[[ -z $p ]] && rm -f /run/sshd/.tcmh-made && rmdir /run/sshd
	fi
	[[ $TCMH_PREFIX == "$prefix" ]] && TCMH_PREFIX=
	return 0
}

hosts_info()
{
	local prefix=$1 n i state
	state=$(hosts_state "$prefix")
	n=$(hosts_n "$prefix")
	[[ -n $n ]] || { _tcmh_err "set '$prefix' is not up"; return 1; }
	echo "state $state"
	echo "ssh_wrapper_dir $state/bin"
	echo "switch $prefix-sw"
	for ((i = 1; i <= n; i++)); do
		echo "host $i $prefix$i $(hosts_ip "$prefix" "$i") sshd_pid $(cat "$state/h$i/sshd.pid" 2>/dev/null)"
	done
}

_tcmh_main()
{
	local cmd=${1:-}
	(($#)) && shift
	case $cmd in
	up)
		[[ $# -eq 3 ]] || { _tcmh_err "usage: hosts.sh up PREFIX N OCTET"; return 2; }
		hosts_up "$@" || return 1
		hosts_info "$1"
		;;
	down)
		[[ $# -eq 1 ]] || { _tcmh_err "usage: hosts.sh down PREFIX"; return 2; }
		hosts_down "$1"
		;;
	exec)
		[[ $# -ge 3 ]] || { _tcmh_err "usage: hosts.sh exec PREFIX I CMD..."; return 2; }
		hosts_exec "$@"
		;;
	check)
		[[ $# -eq 1 ]] || { _tcmh_err "usage: hosts.sh check PREFIX"; return 2; }
		hosts_check "$1"
		;;
	info)
		[[ $# -eq 1 ]] || { _tcmh_err "usage: hosts.sh info PREFIX"; return 2; }
		hosts_info "$1"
		;;
	available)
		hosts_available || return 77
		;;
	*)
		sed -n '3,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
		return 2
		;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	_tcmh_main "$@"
	exit
fi
