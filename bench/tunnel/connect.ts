/**
 * bench/tunnel helper, run as a child process: the `dibs connect` end of the DIBS paths. A client
 * node of its own with `connect` listeners (LocalForward, what `dibs connect` runs), so the forwarder
 * runs in a node process like the real one, not in the bench process beside the relay and the other
 * clients. Over IPC (advanced serialization, for the tickets' bigints):
 * {forward: {peer, ticket, channel, want}} opens a listener whose every connection gets a tunnel of
 * its own that must take path `want` (`direct/data`, `relayed/stream`, …); answers {forwarding: port}
 * or {error}; {busyPoll: µs} sets the busy-polling window, answering {busyPoll}; {pollScore: true}
 * answers {pollScore} (busy-poll.ts).
 */
import { multiaddr } from '@multiformats/multiaddr';
import type { HeldTicket } from '../../packages/node/src/access/access-client.ts';
import { LocalForward } from '../../packages/node/src/services/forward.ts';
import { busyPollScore, openTunnel, setBusyPollWindow } from '../../packages/node/src/tunnel/index.ts';
import { startBenchNode } from './node.ts';

interface ForwardRequest {
  peer: string;
  ticket: HeldTicket;
  channel: 'auto' | 'stream';
  want: string;
}

const { node } = await startBenchNode();
// Caught up with the chain before the bench measures through it (a fresh node's first sync is work).
await node.mirror.syncOnce();
const forwards: LocalForward[] = [];
const quiet = { debug() {}, info() {}, error() {} };

async function forward(req: ForwardRequest): Promise<number> {
  const peer = multiaddr(req.peer);
  const fwd = new LocalForward({
    serviceId: req.ticket.grant.serviceId,
    serviceName: 'bench',
    log: {
      ...quiet,
      warn: (msg, fields) =>
        process.stderr.write(`[bench:tunnel] connect: ${msg} ${JSON.stringify(fields)}\n`),
    },
    open: async () => {
      const tn = await openTunnel({ host: node.host, peer, ticket: req.ticket, channel: req.channel });
      if (`${tn.path}/${tn.channel}` !== req.want) {
        tn.close();
        throw new Error(`expected ${req.want}, got ${tn.path}/${tn.channel}`);
      }
      return tn;
    },
  });
  await fwd.start({ host: '127.0.0.1', port: 0 });
  forwards.push(fwd);
  return Number(fwd.view().localAddress.split(':').at(-1));
}

process.on(
  'message',
  (msg: { forward?: ForwardRequest; busyPoll?: number; pollScore?: boolean; stop?: boolean }) => {
    if (msg.pollScore) process.send?.({ pollScore: busyPollScore() });
    if (msg.busyPoll !== undefined) {
      setBusyPollWindow(msg.busyPoll);
      process.send?.({ busyPoll: msg.busyPoll });
    }
    if (msg.forward) {
      forward(msg.forward).then(
        (port) => process.send?.({ forwarding: port }),
        (err: Error) => process.send?.({ error: err.message }),
      );
    }
    if (msg.stop) {
      void Promise.all(forwards.map((f) => f.close()))
        .then(() => node.stop())
        .then(() => process.exit(0));
    }
  },
);
process.send?.({ ready: { peerId: node.host.peerId.toString() } });
