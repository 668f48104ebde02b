#!/usr/bin/env bash
# The L3 VPN test bed in network namespaces (needs root, iproute2, iptables).
#
#   usage: vpn-topology.sh up <prefix>     creates <prefix>-{inet,relay,hosta,weba,othera,nata,client,webc,natb,siteb,webb}
#          vpn-topology.sh down <prefix>   deletes them (and with them every veth, rule and WireGuard interface inside)
#
#                                 inet 10.202.0.0/24 (bridge)
#        ┌──────────────┬───────────────┼──────────────────┬──────────────────┐
#   relay .1       hosta .2 (public)  nata .3 (MASQ)     natb .4 (MASQ, drops UDP)
#                  lan 10.61.0.1/24     │ 192.168.111.0/24   │ 192.168.112.0/24
#                  ├ weba .10           client .2            siteb .2
#                  └ othera .20         lan 10.63.0.1/24     lan 10.62.0.1/24
#                                       └ webc .10           └ webb .10
#
# hosta serves site A to the client (behind NAT A); the client node and siteb are two NATed sites
# (LANs C and B); natb drops every forwarded UDP datagram, so WireGuard between them can only go
# through the relay. No namespace routes beyond these ranges: no packet leaves the bed.
set -euo pipefail

cmd=${1:?usage: vpn-topology.sh up|down <prefix>}
prefix=${2:?usage: vpn-topology.sh up|down <prefix>}
case "$prefix" in
  *[!a-zA-Z0-9-]* | "") echo "vpn-topology: bad prefix '$prefix'" >&2; exit 2 ;;
esac
names=(inet relay hosta weba othera nata client webc natb siteb webb)

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

  # attach <ns> <port> <address/len>: a veth "wan" in <ns> plugged into the internet bridge.
  attach() {
    ip -n "$inet" link add "$2" type veth peer name wan netns "$prefix-$1"
    ip -n "$inet" link set "$2" master br0 up
    ip -n "$prefix-$1" addr add "$3" dev wan
    ip -n "$prefix-$1" link set wan up
  }
  attach relay p-relay 10.202.0.1/24
  attach hosta p-hosta 10.202.0.2/24
  attach nata p-nata 10.202.0.3/24
  attach natb p-natb 10.202.0.4/24

  # lan <router> <host> <router address/len> <host address/len> <gateway>: a veth from <router> to <host>.
  lan() {
    ip -n "$prefix-$1" link add "$6" type veth peer name eth0 netns "$prefix-$2"
    ip -n "$prefix-$1" addr add "$3" dev "$6"
    ip -n "$prefix-$1" link set "$6" up
    ip -n "$prefix-$2" addr add "$4" dev eth0
    ip -n "$prefix-$2" link set eth0 up
    ip -n "$prefix-$2" route add default via "$5"
    ip netns exec "$prefix-$1" sysctl -qw net.ipv4.ip_forward=1
  }
  # Site A: hosta's LAN, two hosts on a bridge.
  ip -n "$prefix-hosta" link add lanbr type bridge
  ip -n "$prefix-hosta" addr add 10.61.0.1/24 dev lanbr
  ip -n "$prefix-hosta" link set lanbr up
  for h in weba:10 othera:20; do
    local n=${h%%:*} a=${h##*:}
    ip -n "$prefix-hosta" link add "l-$n" type veth peer name eth0 netns "$prefix-$n"
    ip -n "$prefix-hosta" link set "l-$n" master lanbr up
    ip -n "$prefix-$n" addr add "10.61.0.$a/24" dev eth0
    ip -n "$prefix-$n" link set eth0 up
    ip -n "$prefix-$n" route add default via 10.61.0.1
  done
  ip netns exec "$prefix-hosta" sysctl -qw net.ipv4.ip_forward=1

  # nat <router> <host> <lan prefix>: the host behind a MASQUERADE NAT that lets only replies in.
  nat() {
    lan "$1" "$2" "$3.1/24" "$3.2/24" "$3.1" lan
    ip netns exec "$prefix-$1" iptables -t nat -A POSTROUTING -s "$3.0/24" -o wan -j MASQUERADE
    ip netns exec "$prefix-$1" iptables -P FORWARD DROP
    ip netns exec "$prefix-$1" iptables -A FORWARD -i lan -o wan -j ACCEPT
    ip netns exec "$prefix-$1" iptables -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  }
  nat nata client 192.168.111
  nat natb siteb 192.168.112
  # No UDP between the sites: site B's WireGuard can only go through the relay.
  ip netns exec "$prefix-natb" iptables -I FORWARD -p udp -j DROP

  # The sites' LANs behind their site nodes.
  lan client webc 10.63.0.1/24 10.63.0.10/24 10.63.0.1 lanc
  lan siteb webb 10.62.0.1/24 10.62.0.10/24 10.62.0.1 lanb
}

case "$cmd" in
  up)
    trap 'down || true' ERR
    up
    ;;
  down) down ;;
  *) echo "vpn-topology: unknown command '$cmd'" >&2; exit 2 ;;
esac
