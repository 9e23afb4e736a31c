import { useApp } from '../hooks/store.js';

export function DeviceSelect({ value, onChange, allowAll, label = 'Device' }: { value: string | null; onChange: (d: string | null) => void; allowAll?: boolean; label?: string }) {
  const devices = useApp((s) => s.devices);
  return (
    <label className="field inline">
      <span>{label}</span>
      <select value={value ?? ''} onChange={(e) => onChange(e.target.value || null)} aria-label={label}>
        {(allowAll || value === null) && <option value="">{allowAll ? 'all devices' : 'choose a device'}</option>}
        {devices.map((d) => (
          <option key={d.devId} value={d.devId}>
            {d.devId}{d.model ? ` — ${d.model}` : ''}
          </option>
        ))}
      </select>
    </label>
  );
}
