import { useApp } from '../hooks/store.js';
import { heldSession } from '../stores/app-store.js';
import { Badge, timeOf } from './Badge.js';

/**
 * The step control inside an open session: the device sent its message and waits (its HTTP request
 * open) while the server holds the answer. Step sends it with the next command, Resume with all of
 * them; past the hold limit it goes by itself as one Step, so the device never times out.
 */
export function HeldSessionBar({ device, sessionId }: { device: string; sessionId: number }) {
  const held = useApp((s) => heldSession(s, device, sessionId));
  const step = useApp((s) => s.stepQueue);
  const pause = useApp((s) => s.pauseQueue);
  if (!held) return null;
  return (
    <div className="held-bar row between" role="status" aria-label="Session held" data-testid="held-session">
      <div>
        <Badge value="held" title="the device is waiting for our answer" />{' '}
        <span>
          {held.next ? (
            <>Next: <b>{held.next.cmd}</b> <span className="mono">{held.next.target}</span> <span className="muted">(job #{held.next.jobId})</span></>
          ) : (
            'Nothing waiting: Step sends the answer with statuses only'
          )}
        </span>
        <div className="muted small">
          {held.pending} command{held.pending === 1 ? '' : 's'} waiting in this session · held since {timeOf(held.since)} · goes by itself at {timeOf(held.releaseAt)}
        </div>
      </div>
      <div className="row gap">
        <button onClick={() => void step(device)} data-testid="held-step" title="Send the answer with the next command, in this session">Step ▸</button>
        <button onClick={() => void pause(device, false)} data-testid="held-resume" title="Unpause: send the answer with everything waiting">Resume</button>
      </div>
    </div>
  );
}
