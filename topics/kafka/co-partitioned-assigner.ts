// Group assignment by partition number, the way Kafka Streams assigns tasks: a member that gets
// partition p of one input gets partition p of every input it subscribes to. A processor is a fold
// over co-partitioned inputs (posts and follows keyed by author): the state of partition p needs all
// of them, in one process, in event-time order. kafkajs' default round-robin deals out topic-partitions
// one by one, so two members of a group reading two topics got posts/0 and follows/0 each, and each
// folded half of the partition's events.
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

const CO_PARTITIONED_ASSIGNER_NAME = 'DarkroomCoPartitioned';

interface Member {
  memberId: string;
  topics: Set<string>;
}

/**
 * Pure core: which partitions of which topics each member gets. Partition p goes to the p-th member
 * (mod count) among those that subscribe to every topic of the group, so a rolling change of a
 * processor's inputs keeps each partition whole on the members that read all of them. Only when no
 * member reads every topic does a topic go to the p-th of the members that read it.
 */
export function assignCoPartitioned(
  members: Member[], partitionsOf: (topic: string) => number[],
): Map<string, Record<string, number[]>> {
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const topics = [...new Set(sorted.flatMap((m) => [...m.topics]))].sort();
  const complete = sorted.filter((m) => topics.every((t) => m.topics.has(t)));
  const result = new Map<string, Record<string, number[]>>(sorted.map((m) => [m.memberId, {}]));
  for (const topic of topics) {
    const readers = complete.length > 0 ? complete : sorted.filter((m) => m.topics.has(topic));
    for (const partition of [...partitionsOf(topic)].sort((a, b) => a - b)) {
      const owner = readers[partition % readers.length];
      (result.get(owner.memberId)![topic] ??= []).push(partition);
    }
  }
  return result;
}

export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED_ASSIGNER_NAME,
  version: 0,
  async assign({ members }) {
    const decoded = members.map(({ memberId, memberMetadata }) => ({
      memberId,
      topics: new Set(AssignerProtocol.MemberMetadata.decode(memberMetadata)?.topics ?? []),
    }));
    // kafkajs' leader holds the metadata of its own subscriptions only: when another member reads a
    // topic it does not (a rollout adding a processor), that topic had no partitions to assign.
    await cluster.addMultipleTargetTopics([...new Set(decoded.flatMap((m) => [...m.topics]))]);
    const assignment = assignCoPartitioned(decoded, (topic) => cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId));
    return [...assignment].map(([memberId, topics]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: topics, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: CO_PARTITIONED_ASSIGNER_NAME, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
