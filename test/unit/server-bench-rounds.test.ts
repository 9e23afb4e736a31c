/**
 * The server bench's statistics (issue 17): per round, CPU per DM round trip against the bare
 * server's and clients' CPU per request; the `--json` line holds their medians and ranges under
 * names scripts read. Figures are not judged here (speed targets live in `npm run bench`).
 */
import { describe, expect, it } from 'vitest';
import { roundFigures, serverJson, type RoundFigures } from '../bench/suites/server.js';

describe('server bench rounds', () => {
  it('a round compares CPU per DM round trip with the bare CPU per request, for the server and for the clients', () => {
    const f = roundFigures({ sessions: 100, roundTrips: 200, ms: 1000, serverCpuMs: 300, clientCpuMs: 100 }, { requests: 4000, ms: 1000, serverCpuMs: 200, clientCpuMs: 400 });
    expect(f.sessionsPerS).toBe(100);
    expect(f.rtPerSession).toBe(2);
    expect(f.serverCpuMsPerRt).toBe(1.5);
    expect(f.bareCpuMsPerReq).toBe(0.05);
    expect(f.serverRatio).toBeCloseTo(30);
    expect(f.handsetCpuMsPerRt).toBe(0.5);
    expect(f.bareClientCpuMsPerReq).toBe(0.1);
    expect(f.handsetRatio).toBeCloseTo(5);
    expect(f.throughputRatio).toBeCloseTo(0.05);
  });

  it('--json holds the medians the issue names, each with its range, and the machine load', () => {
    const rounds: RoundFigures[] = [1, 3, 2].map((k) => roundFigures(
      { sessions: 100, roundTrips: 200, ms: 1000, serverCpuMs: 100 * k, clientCpuMs: 50 * k },
      { requests: 1000, ms: 500, serverCpuMs: 50, clientCpuMs: 100 },
    ));
    const j = serverJson(rounds, { handsets: 32, synchronous: 'FULL', messageBytes: 436.4, loadBefore: [1.2345, 1, 1], loadAfter: [2, 2, 2] });
    for (const k of ['sessions_per_s', 'server_cpu_ms_per_roundtrip', 'bare_cpu_ms_per_request', 'handset_cpu_ms_per_roundtrip', 'bare_client_cpu_ms_per_request', 'server_cpu_ratio', 'handset_cpu_ratio']) {
      expect(typeof j[k]).toBe('number');
      expect(typeof j[`${k}_min`]).toBe('number');
      expect(typeof j[`${k}_max`]).toBe('number');
    }
    expect(j).toMatchObject({
      suite: 'server', rounds: 3, basis: 'cpu', synchronous: 'FULL',
      server_cpu_ms_per_roundtrip: 1, server_cpu_ms_per_roundtrip_min: 0.5, server_cpu_ms_per_roundtrip_max: 1.5,
      bare_cpu_ms_per_request: 0.05, server_cpu_ratio: 20, server_cpu_ratio_min: 10, server_cpu_ratio_max: 30,
      handset_cpu_ms_per_roundtrip: 0.5, bare_client_cpu_ms_per_request: 0.1, handset_cpu_ratio: 5,
      message_bytes: 436, loadavg_before: [1.235, 1, 1], targets: { server_cpu_ratio: 4, handset_cpu_ratio: 2.5 },
    });
    expect(j).not.toHaveProperty('what_if');
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});
