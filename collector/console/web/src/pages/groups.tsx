/**
 * Consumer groups: per group its generation and members (client id, assigned partitions, last heartbeat) and per
 * topic-partition the committed offset, the end offset and the lag, refreshed every 2 s. Resetting a group's
 * offsets needs the admin role: for other roles the button is shown disabled.
 */
import { useState } from 'preact/hooks';
import { getJson, postJson, type Role } from '../api.ts';
import { formatTime } from '../components/log-line.tsx';
import { usePolling } from '../polling.ts';

interface Member {
  readonly member_id: string;
  readonly client_id: string;
  readonly assignment: readonly { readonly topic: string; readonly partition: number }[];
  readonly last_heartbeat: number;
}

interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly commit_timestamp: number;
  readonly end_offset: number | null;
  readonly lag: number | null;
}

interface GroupView {
  readonly name: string;
  readonly generation: number | null;
  readonly members: readonly Member[];
  readonly offsets: readonly CommittedOffset[];
}

const REFRESH_MS = 2000;

async function loadGroups(): Promise<GroupView[]> {
  const { groups } = await getJson<{ groups: string[] }>('/v1/groups');
  return await Promise.all(
    groups.map(async (name) => {
      const base = `/v1/groups/${encodeURIComponent(name)}`;
      const [members, offsets] = await Promise.all([
        getJson<{ generation_id: number | null; members: Member[] }>(`${base}/members`),
        getJson<{ offsets: CommittedOffset[] }>(`${base}/offsets`),
      ]);
      return { name, generation: members.generation_id, members: members.members, offsets: offsets.offsets };
    }),
  );
}

export function GroupsPage({ role }: { role: Role }) {
  const [groups, setGroups] = useState<readonly GroupView[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [tick, setTick] = useState(0);

  usePolling(loadGroups, setGroups, setError, REFRESH_MS, [tick]);

  const reset = async (group: string) => {
    if (!confirm(`Reset every committed offset of ${group} to the end of its topics (skip the lag)?`)) return;
    try {
      await postJson(`/v1/groups/${encodeURIComponent(group)}/offsets/reset`, { to: 'latest' });
      setTick((t) => t + 1);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <section class="page table-page">
      <h1>Consumer groups</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {groups?.length === 0 && <p>No consumer group has committed an offset yet.</p>}
      {groups?.map((g) => {
        const totalLag = g.offsets.reduce((s, o) => s + (o.lag ?? 0), 0);
        return (
          <article key={g.name} class="card" data-group={g.name}>
            <header>
              <h2>{g.name}</h2>
              <span>
                generation {g.generation ?? '–'} · {g.members.length} members · lag{' '}
                <b data-testid="total-lag">{totalLag.toLocaleString()}</b>
              </span>
              <button
                type="button"
                disabled={role !== 'admin' || g.members.length > 0}
                title={
                  role !== 'admin'
                    ? 'needs a token with the admin role'
                    : g.members.length > 0
                      ? 'only a group without live members can be reset'
                      : 'set every committed offset to the end'
                }
                onClick={() => reset(g.name)}
              >
                Reset to latest
              </button>
            </header>
            {g.members.length > 0 && (
              <table class="members">
                <thead>
                  <tr>
                    <th>member</th>
                    <th>client</th>
                    <th>assigned partitions</th>
                    <th>last heartbeat</th>
                  </tr>
                </thead>
                <tbody>
                  {g.members.map((m) => (
                    <tr key={m.member_id}>
                      <td title={m.member_id}>{m.member_id.slice(0, 12)}</td>
                      <td>{m.client_id}</td>
                      <td>{m.assignment.map((a) => `${a.topic}/${a.partition}`).join(', ') || '–'}</td>
                      <td>{formatTime(m.last_heartbeat).slice(11)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <table class="offsets">
              <thead>
                <tr>
                  <th>topic</th>
                  <th>partition</th>
                  <th class="num">committed</th>
                  <th class="num">end offset</th>
                  <th class="num">lag</th>
                  <th>committed at</th>
                </tr>
              </thead>
              <tbody>
                {g.offsets.map((o) => (
                  <tr key={`${o.topic}/${o.partition}`} data-partition={`${o.topic}/${o.partition}`}>
                    <td>{o.topic}</td>
                    <td>{o.partition}</td>
                    <td class="num">{o.offset.toLocaleString()}</td>
                    <td class="num">{o.end_offset?.toLocaleString() ?? '–'}</td>
                    <td class={`num lag${(o.lag ?? 0) > 0 ? ' behind' : ''}`} data-testid="lag">
                      {o.lag?.toLocaleString() ?? '–'}
                    </td>
                    <td>{formatTime(o.commit_timestamp).slice(5)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </article>
        );
      })}
    </section>
  );
}
