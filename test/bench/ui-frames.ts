/**
 * What a frame costs while a list scrolls, measured from Chrome's own trace (CDP `Tracing`) of the
 * page's renderer main thread, not from requestAnimationFrame deltas.
 *
 * Why not rAF deltas: the time between two rAF callbacks cannot go below the display's period
 * (16.7 ms at 60 Hz) and includes the thread idling for vsync, and on a loaded machine the time the
 * process waited for a core. The earlier figure (rAF callback to a task queued behind it) left out
 * the React render the virtualizer does in the scroll event, which runs before the next frame's rAF.
 *
 * Here a frame is the interval between two consecutive `FireAnimationFrame` trace events on the
 * page's main thread (the probe scrolls once per rAF, so one per frame). Its cost is the sum of the
 * main thread's top-level tasks (`ThreadControllerImpl::RunTask`; `RunTask` in older Chromes) in it: `wallMs` their wall time (includes time the thread
 * was runnable but descheduled by other processes), `cpuMs` their thread CPU time (`tdur`: the work
 * itself, what the frame costs on an idle core). Raster (on the raster worker threads) and the GPU /
 * compositor process are not in either; their share shows in the rAF deltas.
 * Beside it, Performance.getMetrics over the whole scroll gives the mean split per frame into script,
 * style, layout and the rest (paint, pre-paint, layerize, commit, GC).
 */
import type { CDPSession, Page } from 'playwright-core';

export interface FrameCosts {
  /** Per frame, main-thread tasks' wall time, ms. */
  wallMs: number[];
  /** Per frame, main-thread tasks' CPU time, ms. */
  cpuMs: number[];
  /** rAF intervals as the page saw them, ms. */
  intervals: number[];
  /** Mean per frame over the scroll, ms, from Performance.getMetrics. */
  mean: { task: number; script: number; style: number; layout: number; other: number; threadCpu: number };
}

interface TraceEvent { name: string; ph: string; ts: number; dur?: number; tdur?: number; pid: number; tid: number; cat?: string; args?: { name?: string } }

/** Scrolls `selector` by `step` px every frame for `frames` frames; resolves with the rAF intervals. */
const SCROLL_PROBE = `async ([selector, frames, step]) => {
  const el = document.querySelector(selector);
  if (!el) throw new Error('no ' + selector);
  const intervals = [];
  let last = performance.now();
  for (let i = 0; i < frames; i++) {
    await new Promise((resolve) => requestAnimationFrame((t) => {
      intervals.push(t - last); last = t;
      el.scrollTop = (el.scrollTop + step) % Math.max(1, el.scrollHeight - el.clientHeight);
      resolve();
    }));
  }
  // One more frame so the last scroll's render and paint are inside the trace.
  await new Promise((r) => requestAnimationFrame(() => r()));
  await new Promise((r) => requestAnimationFrame(() => r()));
  return intervals;
}`;

async function metrics(cdp: CDPSession): Promise<Record<string, number>> {
  const r = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  return Object.fromEntries(r.metrics.map((m) => [m.name, m.value]));
}

export async function measureScroll(page: Page, selector: string, frames: number, step: number): Promise<FrameCosts> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('Performance.enable', { timeDomain: 'threadTicks' } as never).catch(() => cdp.send('Performance.enable'));
    const events: TraceEvent[] = [];
    cdp.on('Tracing.dataCollected', (e) => { for (const ev of e.value) events.push(ev as unknown as TraceEvent); });
    const done = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
    await cdp.send('Tracing.start', { categories: 'toplevel,devtools.timeline,disabled-by-default-devtools.timeline.frame', transferMode: 'ReportEvents' } as never);
    const before = await metrics(cdp);
    const intervals = (await page.evaluate(`(${SCROLL_PROBE})(${JSON.stringify([selector, frames, step])})`)) as number[];
    const after = await metrics(cdp);
    await cdp.send('Tracing.end');
    await done;
    const per = (k: string) => ((after[k] ?? 0) - (before[k] ?? 0)) * 1000 / frames;
    const task = per('TaskDuration');
    const script = per('ScriptDuration');
    const style = per('RecalcStyleDuration');
    const layout = per('LayoutDuration');
    const { wallMs, cpuMs } = perFrame(events);
    return { wallMs, cpuMs, intervals, mean: { task, script, style, layout, other: Math.max(0, task - script - style - layout), threadCpu: per('ThreadTime') } };
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

/** The page's main thread is the CrRendererMain thread with the most FireAnimationFrame events. */
export function perFrame(events: TraceEvent[]): { wallMs: number[]; cpuMs: number[] } {
  const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const raf = new Map<string, number[]>();
  for (const e of events) {
    if (e.name !== 'FireAnimationFrame' || !mains.has(`${e.pid}:${e.tid}`)) continue;
    const k = `${e.pid}:${e.tid}`;
    raf.set(k, [...(raf.get(k) ?? []), e.ts]);
  }
  const [main, marks] = [...raf.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
  const starts = [...marks].sort((a, b) => a - b);
  const tasks = events.filter((e) => e.ph === 'X' && (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask') && `${e.pid}:${e.tid}` === main).sort((a, b) => a.ts - b.ts);
  const wallMs: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i + 1 < starts.length; i++) {
    const from = starts[i]!;
    const to = starts[i + 1]!;
    let wall = 0;
    let cpu = 0;
    for (const t of tasks) {
      const end = t.ts + (t.dur ?? 0);
      if (end <= from || t.ts >= to) continue;
      // A task across the boundary counts in the frame it starts in, clipped.
      const part = Math.min(end, to) - Math.max(t.ts, from);
      wall += part;
      if (t.tdur !== undefined && t.dur) cpu += t.tdur * (part / t.dur);
    }
    wallMs.push(wall / 1000);
    cpuMs.push(cpu / 1000);
  }
  return { wallMs, cpuMs };
}
