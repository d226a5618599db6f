import { type RabbitNode, startRabbitNode } from './rabbit-node.ts';

/**
 * A RabbitMQ cluster of the test's own: `size` private nodes (own names, ports, config files,
 * data and log directories; rabbit-node.ts) joined to the first. The machine's own node on 5672
 * is never touched or clustered. `close()` stops every node, and rabbit-node.ts kills them on
 * process exit even when the test dies first.
 */
export interface RabbitCluster {
  nodes: RabbitNode[];
  /** Every node's URL, comma-separated: an AMQP_URL for the product. */
  amqpUrl: string;
  /** A URL of a node that is up now. */
  liveUrl(): string;
  /** The node that leads a quorum queue (of the default vhost) now. */
  leaderOf(queue: string): Promise<RabbitNode>;
  close(): Promise<void>;
}

const CONFIG = [
  // On a lost majority a node pauses rather than serving a split brain (RabbitMQ's advice for 3+).
  'cluster_partition_handling = pause_minority',
  'vm_memory_high_watermark.relative = 0.2',
  'log.console = false',
];

export async function startRabbitCluster(label: string, size = 3): Promise<RabbitCluster> {
  const nodes: RabbitNode[] = [];
  const down = new Set<RabbitNode>();
  const close = async () => {
    await Promise.all(nodes.map((n) => n.close().catch(() => {})));
  };
  try {
    const started = await Promise.allSettled(
      Array.from({ length: size }, (_, i) => startRabbitNode(`${label}${i + 1}`, { config: CONFIG })),
    );
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [seed, ...rest] = nodes as [RabbitNode, ...RabbitNode[]];
    for (const node of rest) {
      await node.ctl('stop_app');
      await node.ctl('join_cluster', seed.nodeName);
      await node.ctl('start_app');
    }
    const status = await seed.ctl('cluster_status', '--formatter', 'json');
    const running = (JSON.parse(status) as { running_nodes: string[] }).running_nodes;
    if (running.length !== size) throw new Error(`cluster formed with ${running.length}/${size} nodes: ${status}`);
  } catch (err) {
    await close();
    throw err;
  }
  for (const n of nodes) {
    const crash = n.crash.bind(n);
    const start = n.start.bind(n);
    n.crash = async () => {
      down.add(n);
      await crash();
    };
    n.start = async () => {
      await start();
      down.delete(n);
    };
  }
  return {
    nodes,
    amqpUrl: nodes.map((n) => n.url).join(','),
    liveUrl() {
      const up = nodes.find((n) => !down.has(n));
      if (!up) throw new Error('no node of the cluster is up');
      return up.url;
    },
    async leaderOf(queue) {
      const asker = nodes.find((n) => !down.has(n));
      if (!asker) throw new Error('no node of the cluster is up');
      const out = await asker.ctl('list_queues', '-p', '/', '--formatter', 'json', 'name', 'leader');
      const row = (JSON.parse(out) as { name: string; leader: string }[]).find((q) => q.name === queue);
      const leader = nodes.find((n) => n.nodeName === row?.leader);
      if (!leader) throw new Error(`no leader found for ${queue}: ${out}`);
      return leader;
    },
    close,
  };
}
