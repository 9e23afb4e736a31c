import { useEffect, useMemo } from 'react';
import { useApp } from '../hooks/store.js';
import { Badge, StatusCode, timeOf } from './Badge.js';
import { clip, LongValue } from './LongValue.js';

/** Kinds the server can check by reading the node back (main/server/unconfirmed.ts VERIFIABLE_KINDS). */
const VERIFIABLE = ['add', 'replace', 'delete'];

/** The command and its node; a value is cut to its head (a 1 MB Replace must not fill the table). */
function describeSpec(spec: unknown): string {
  const s = spec as { kind?: string; uri?: string; value?: string; commands?: { kind: string; uri?: string }[] };
  if (s.commands) return clip(`${s.kind} [${s.commands.map((c) => `${c.kind} ${c.uri ?? ''}`).join(', ')}]`, 200).head;
  return `${s.kind ?? '?'} ${s.uri ?? ''}`;
}

/** The command, and its value (if any) cut with "show all" / "download" for the whole. */
function SpecCell({ spec, id }: { spec: unknown; id: number | string }) {
  const value = (spec as { value?: unknown }).value;
  if (typeof value !== 'string') return <>{describeSpec(spec)}</>;
  return <>{describeSpec(spec)} = <LongValue text={value} max={48} fileName={`job-${id}-value.txt`} /></>;
}

/**
 * A device's job queue: pause it, step it one command at a time, see every request and its state.
 * Out of session, paused jobs wait in the UI backend and Step hands the next one to the server (which
 * notifies the device when it can). In session, the server holds each answer that would carry a
 * command and Step lets it go with one, in the same session. After Pause/Resume and Step the device's
 * jobs are read again: held jobs the backend handed to the server then are new jobs the list must show.
 */
export function QueuePanel({ device }: { device: string }) {
  const queue = useApp((s) => s.queues[device]);
  const jobsById = useApp((s) => s.jobs);
  const loadQueue = useApp((s) => s.loadQueue);
  const loadJobs = useApp((s) => s.loadJobs);
  const pause = useApp((s) => s.pauseQueue);
  const step = useApp((s) => s.stepQueue);
  const discard = useApp((s) => s.discardHeld);
  const decide = useApp((s) => s.decideJob);
  useEffect(() => {
    void loadQueue(device);
    void loadJobs(device);
  }, [device, loadQueue, loadJobs]);
  const jobs = useMemo(() => Object.values(jobsById).filter((j) => j.device === device).sort((a, b) => b.id - a.id).slice(0, 50), [jobsById, device]);
  const paused = queue?.paused ?? false;
  const unconfirmed = jobs.filter((j) => j.status === 'unconfirmed');
  return (
    <section className="panel" aria-label="Job queue">
      <header className="panel-head">
        <h3>Job queue</h3>
        <div className="row gap">
          <button onClick={() => void pause(device, !paused).then(() => loadJobs(device))} data-testid="pause-queue">{paused ? 'Resume queue' : 'Pause queue'}</button>
          <button onClick={() => void step(device).then(() => loadJobs(device))} disabled={!queue || (queue.held.length === 0 && !queue.session)} data-testid="step-queue" title={queue?.session ? 'Send the held answer with the next command, in this session' : 'Send the next held job'}>
            Step ▸
          </button>
          {paused && queue && queue.held.length > 1 && !queue.session && (
            <button onClick={() => void step(device, { all: true }).then(() => loadJobs(device))} data-testid="step-session" title="Hand every held job to the server and notify the device: in its session each command waits for Step">
              Step through in one session
            </button>
          )}
        </div>
      </header>
      {paused && <p className="hint">Paused: out of session, new jobs from the workbench wait here; in a session, the server holds each answer until Step. Step sends one command (or one Atomic/Sequence) at a time.</p>}
      {queue?.session && (
        <p className="hint" data-testid="queue-held-session">
          Session #{queue.session.sessionId} is held{queue.session.next ? <>: next <span className="mono">{queue.session.next.cmd} {queue.session.next.target}</span> (job #{queue.session.next.jobId})</> : ''}.
        </p>
      )}
      {queue && queue.held.length > 0 && (
        <table className="grid compact">
          <thead><tr><th>held</th><th>job</th><th /></tr></thead>
          <tbody>
            {queue.held.map((h) => (
              <tr key={h.heldId}>
                <td><Badge value="held" /></td>
                <td className="mono wrap"><SpecCell spec={h.spec} id={`held-${h.heldId}`} /></td>
                <td><button className="link" onClick={() => void discard(device, h.heldId)}>discard</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {unconfirmed.length > 0 && (
        <div className="hint" data-testid="unconfirmed-jobs">
          <p>
            {unconfirmed.length === 1 ? 'One command' : `${unconfirmed.length} commands`} went out without an answer: the device may or may not have
            executed {unconfirmed.length === 1 ? 'it' : 'them'}, so nothing is sent again until you decide. Verify reads the node back first and
            sends the command only if it is not there yet; Re-send sends it as it is; Drop gives up on it.
          </p>
          <table className="grid compact">
            <tbody>
              {unconfirmed.map((j) => (
                <tr key={j.id} data-unconfirmed={j.id}>
                  <td>{j.id}</td>
                  <td className="mono wrap"><SpecCell spec={j.spec} id={j.id} /></td>
                  <td className="small">{j.error}</td>
                  <td className="row gap">
                    {VERIFIABLE.includes(j.command) && <button onClick={() => void decide(j.id, 'verify')} data-testid={`verify-${j.id}`}>Verify</button>}
                    <button onClick={() => void decide(j.id, 'resend')} data-testid={`resend-${j.id}`} title={j.command === 'exec' ? 'The device may already have executed it' : undefined}>Re-send</button>
                    <button onClick={() => void decide(j.id, 'drop')} data-testid={`drop-${j.id}`}>Drop</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <table className="grid compact" data-testid="job-list" style={{ tableLayout: 'fixed' }}>
        <thead><tr><th style={{ width: 40 }}>#</th><th>command</th><th style={{ width: 96 }}>state</th><th style={{ width: 60 }}>status</th><th style={{ width: 100 }}>updated</th></tr></thead>
        <tbody>
          {jobs.length === 0 && <tr><td colSpan={5} className="muted">No jobs yet.</td></tr>}
          {jobs.map((j) => (
            <tr key={j.id} data-job={j.id}>
              <td>{j.id}</td>
              <td className="mono wrap" title={j.error ?? undefined} data-testid="job-command"><SpecCell spec={j.spec} id={j.id} /></td>
              <td><Badge value={j.status} title={j.error ?? undefined} /></td>
              <td><StatusCode code={j.statusCode} /></td>
              <td>{timeOf(j.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
