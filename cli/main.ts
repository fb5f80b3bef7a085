import { Command, InvalidArgumentError } from 'commander';
import { exitWithError } from './errors.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function duration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  if (!match) throw new InvalidArgumentError('use a number of seconds or 500ms, 30s, 5m, 1h');
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's']!;
  return Number(match[1]) * unit;
}

// A reader that goes away (`darkroom tail ... | head`) ends the command quietly, as for any Unix tool.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  exitWithError(error);
});

// A mistake in the options gets commander's one line (with a suggestion where it has one), not the help.
const program = new Command('darkroom')
  .description('darkroom: actions in, Avro events on topics, RxJS processors, views in Redis and ClickHouse');

program.command('start')
  .description('run the whole platform in one process: ingest, processors, sinks, serving (and the simulator)')
  .action(async () => (await import('./commands/start.ts')).start({ ingest: true, process: true, serve: true }));

program.command('serve')
  .description('run ingest and the read API only (scale-out role)')
  .action(async () => (await import('./commands/start.ts')).start({ ingest: true, process: false, serve: true }));

program.command('process')
  .description('run the processors only (scale-out role; Kafka consumer groups spread partitions)')
  .action(async () => (await import('./commands/start.ts')).start({ ingest: false, process: true, serve: false }));

program.command('simulate')
  .description('produce realistic synthetic traffic')
  .option('--users <n>', 'number of users', positiveInt, 10_000)
  .option('--rate <r>', 'events per second', positiveInt, 1_000)
  .option('--duration <d>', 'how long to run (e.g. 30s, 5m)', duration, 30_000)
  .option('--events <n>', 'stop after this many events instead of a duration', positiveInt)
  .option('--seed <s>', 'random seed; the same seed gives the same traffic', positiveInt, 1)
  .option('--url <url>', 'send over HTTP to a running darkroom instead of writing the topics directly')
  .option('--token <token>', 'bearer token for --url')
  .option('--batch <n>', 'events per produce call / HTTP request', positiveInt, 500)
  .option('--as-fast-as-possible', 'ignore --rate and send as fast as the platform accepts')
  .action(async (options) => (await import('./commands/simulate.ts')).simulate(options));

program.command('tail')
  .description('print the decoded records of a topic as JSON lines')
  .argument('<topic>', 'topic name (see `darkroom topics`)')
  .option('--from-beginning', 'start at offset 0 instead of the end')
  .option('--limit <n>', 'stop after n records', positiveInt)
  .action(async (topic, options) => (await import('./commands/tail.ts')).tail(topic, options));

program.command('topics')
  .description('list the topics with their partitions, offsets and retention')
  .action(async () => (await import('./commands/topics.ts')).topics());

program.command('sql')
  .description('run a read-only SQL query against the analytics store and print JSON rows')
  .argument('<query>', 'a SELECT statement')
  .action(async (query) => (await import('./commands/sql.ts')).sql(query));

program.command('replay')
  .description('rebuild views from offset 0 into a new generation, switch serving to it once caught up, drop the old one')
  .option('--processor <name>', 'a view processor (or several, comma-separated), or all', 'all')
  .option('--keep-old', 'keep the old generation after the switch (e.g. for darkroom verify)')
  .option('--from-snapshot <name>', 'start from a snapshot\'s views and offsets instead of offset 0 (when retention removed older records)')
  .action(async (options) => (await import('./commands/replay.ts')).replay(options));

const snapshot = program.command('snapshot').description('snapshots of the views: where a replay starts when retention removed older records');
snapshot.command('create')
  .description('copy the current generation (views and the offsets they hold) into a snapshot')
  .option('--name <name>', 'snapshot name (default snap-<UTC time>)')
  .action(async (options) => (await import('./commands/snapshot.ts')).snapshotCreate(options));
snapshot.command('list')
  .description('snapshots, the input records they cover, and whether a replay can start from them')
  .action(async () => (await import('./commands/snapshot.ts')).snapshotList());
snapshot.command('drop')
  .description('delete a snapshot')
  .argument('<name>', 'the snapshot')
  .action(async (name) => (await import('./commands/snapshot.ts')).snapshotDrop(name));

program.command('verify')
  .description('compare two generations view by view, or one with a fresh rebuild; exit 0 when identical')
  .option('--generation <g>', 'the generation to check (default: the one serving reads)')
  .option('--against <g>', 'the generation to compare with (default: a fresh rebuild from offset 0)')
  .option('--limit <n>', 'differences to print', positiveInt, 100)
  .action(async (options) => (await import('./commands/verify.ts')).verify(options));

program.parseAsync(process.argv).catch(exitWithError);
