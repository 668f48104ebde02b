#!/usr/bin/env bash
# Two-NAT test bed in network namespaces (needs root, iproute2, iptables).
#
#   usage: topology.sh up <prefix>     creates <prefix>-{inet,relay,nata,natb,client,service}
#          topology.sh down <prefix>   deletes them (and with them every veth and rule inside)
#
#   client 192.168.101.2 ── nata (MASQUERADE) 10.201.0.2 ─┐
#                                                        inet (bridge) ── relay 10.201.0.1
#   service 192.168.102.2 ─ natb (MASQUERADE) 10.201.0.3 ─┘
#
# Every interface is created inside a namespace, never in the host's, and no namespace has a route
# beyond these ranges, so no packet can leave the test bed. Only the NAT routers know both sides; the
# "internet" (inet, relay) has no route to either LAN, so the client and the service cannot reach
# each other except through the relay.
set -euo pipefail

cmd=${1:?usage: topology.sh up|down <prefix>}
prefix=${2:?usage: topology.sh up|down <prefix>}
case "$prefix" in
  *[!a-zA-Z0-9-]* | "") echo "topology: bad prefix '$prefix'" >&2; exit 2 ;;
esac
names=(inet relay nata natb client service)

down() {
  local rc=0
  for n in "${names[@]}"; do
    if ip netns list | grep -qw -- "$prefix-$n"; then
      ip netns del "$prefix-$n" || rc=1
    fi
  done
  return $rc
}

up() {
  for n in "${names[@]}"; do
    ip netns add "$prefix-$n"
    ip -n "$prefix-$n" link set lo up
  done
  local inet="$prefix-inet"

  # The shared segment: a bridge in its own namespace, one port per attached namespace.
  ip -n "$inet" link add br0 type bridge
  ip -n "$inet" link set br0 up

  # attach <ns> <port name in inet> <address/len>: a veth "wan" in <ns> plugged into the bridge.
  attach() {
    ip -n "$inet" link add "$2" type veth peer name wan netns "$prefix-$1"
    ip -n "$inet" link set "$2" master br0 up
    ip -n "$prefix-$1" addr add "$3" dev wan
    ip -n "$prefix-$1" link set wan up
  }
  attach relay p-relay 10.201.0.1/24
  attach nata p-nata 10.201.0.2/24
  attach natb p-natb 10.201.0.3/24

  # nat <router> <host> <lan prefix>: a LAN behind <router>, masqueraded onto its wan address.
  nat() {
    local router="$prefix-$1" host="$prefix-$2"
    ip -n "$router" link add lan type veth peer name eth0 netns "$host"
    ip -n "$router" addr add "$3.1/24" dev lan
    ip -n "$router" link set lan up
    ip -n "$host" addr add "$3.2/24" dev eth0
    ip -n "$host" link set eth0 up
    ip -n "$host" route add default via "$3.1"
    ip netns exec "$router" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$router" iptables -t nat -A POSTROUTING -s "$3.0/24" -o wan -j MASQUERADE
    # A NAT, not a router: only replies to connections opened from inside come back in.
    ip netns exec "$router" iptables -P FORWARD DROP
    ip netns exec "$router" iptables -A FORWARD -i lan -o wan -j ACCEPT
    ip netns exec "$router" iptables -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  }
  nat nata client 192.168.101
  nat natb service 192.168.102
}

case "$cmd" in
  up)
    trap 'down || true' ERR
    up
    ;;
  down) down ;;
  *) echo "topology: unknown command '$cmd'" >&2; exit 2 ;;
esac
