/** Serial view (issue 18 point 6, "Also"): /dev/ttyS0 is not preselected; a typed pty path is taken. */
import { describe, expect, it } from 'vitest';
import { portPathProblem, preselectPort } from '../../renderer/stores/serial-slice.js';

describe('preselectPort', () => {
  it('picks a USB modem or handset, never a bare legacy ttyS port', () => {
    expect(preselectPort([{ path: '/dev/ttyS0' }, { path: '/dev/ttyS1' }])).toBeNull();
    expect(preselectPort([{ path: '/dev/ttyS0' }, { path: '/dev/ttyACM0' }])).toBe('/dev/ttyACM0');
    expect(preselectPort([{ path: '/dev/ttyS0' }, { path: '/dev/ttyX9', vendorId: '1bc7' }])).toBe('/dev/ttyX9');
    expect(preselectPort([])).toBeNull();
  });
});

describe('portPathProblem', () => {
  it('takes what the backend takes, with the reason otherwise', () => {
    expect(portPathProblem('/dev/pts/3')).toBeNull();
    expect(portPathProblem('COM3')).toBeNull();
    expect(portPathProblem('')).toBeNull();
    expect(portPathProblem('/tmp/dmw')).toMatch(/\/dev\/pts\/N socat printed/);
    expect(portPathProblem('/dev/../etc/passwd')).not.toBeNull();
  });
});
