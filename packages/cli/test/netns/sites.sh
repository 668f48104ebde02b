#!/usr/bin/env bash
# Three NATed sites and a public segment in network namespaces (needs root, iproute2, iptables).
#
#   usage: sites.sh up <prefix>     creates <prefix>-{inet,op,r1,r2,nat1,nat2,nat3,s1,s2,s3}
#          sites.sh down <prefix>   deletes them (and with them every veth and rule inside)
#
#                 ┌── op  10.202.0.1  (operator: chain, bootstrap)
#                 ├── r1  10.202.0.2  (relay)
#   inet (bridge) ├── r2  10.202.0.3  (relay)
#                 ├── nat1 10.202.0.11 ── s1 192.168.121.2
#                 ├── nat2 10.202.0.12 ── s2 192.168.122.2
#                 └── nat3 10.202.0.13 ── s3 192.168.123.2
#
# Every interface is created inside a namespace, never in the host's, and no namespace has a route
# beyond these ranges, so no packet leaves the bed. The NAT routers masquerade their site onto the
# public segment and let only replies back in: the sites reach the public segment, never each other.
set -euo pipefail

cmd=${1:?usage: sites.sh up|down <prefix>}
prefix=${2:?usage: sites.sh up|down <prefix>}
case "$prefix" in
  *[!a-zA-Z0-9-]* | "") echo "sites: bad prefix '$prefix'" >&2; exit 2 ;;
esac
names=(inet op r1 r2 nat1 nat2 nat3 s1 s2 s3)

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
  ip -n "$inet" link add br0 type bridge
  ip -n "$inet" link set br0 up

  # attach <ns> <address/len>: a veth "wan" in <ns> plugged into the bridge.
  attach() {
    ip -n "$inet" link add "p-$1" type veth peer name wan netns "$prefix-$1"
    ip -n "$inet" link set "p-$1" master br0 up
    ip -n "$prefix-$1" addr add "$2" dev wan
    ip -n "$prefix-$1" link set wan up
  }
  attach op 10.202.0.1/24
  attach r1 10.202.0.2/24
  attach r2 10.202.0.3/24
  attach nat1 10.202.0.11/24
  attach nat2 10.202.0.12/24
  attach nat3 10.202.0.13/24

  # nat <router> <site> <lan prefix>: a site behind <router>, masqueraded onto its wan address.
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
    ip netns exec "$router" iptables -P FORWARD DROP
    ip netns exec "$router" iptables -A FORWARD -i lan -o wan -j ACCEPT
    ip netns exec "$router" iptables -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  }
  nat nat1 s1 192.168.121
  nat nat2 s2 192.168.122
  nat nat3 s3 192.168.123
}

case "$cmd" in
  up)
    trap 'down || true' ERR
    up
    ;;
  down) down ;;
  *) echo "sites: unknown command '$cmd'" >&2; exit 2 ;;
esac
