/**
 * A value editor typed by the node's DM format (TND §7: b64, bin, bool, chr, int, node, null, xml,
 * date, time, float): the right input for each, and the check a device would make before we send.
 *
 * Numbers are text inputs with a numeric keyboard, not number inputs: a number input cannot hold
 * what was typed for another node ("de-DE" left over when the selection moved on made Chromium warn
 * `The specified value "de-DE" cannot be parsed` and show an empty field), nor "2.5" in an int field
 * so that it can be explained. The caller keys the editor's state by node (TreeView: NodePanel key).
 */
export const FORMATS = ['chr', 'int', 'bool', 'float', 'date', 'time', 'b64', 'bin', 'xml', 'node', 'null'] as const;
export type DmFormatName = (typeof FORMATS)[number];

export function validateValue(format: string, value: string): string | null {
  switch (format) {
    case 'int':
      return /^-?\d+$/.test(value.trim()) && Number.isSafeInteger(Number(value)) ? null : 'an integer, e.g. 42';
    case 'float':
      return value.trim() !== '' && Number.isFinite(Number(value)) ? null : 'a number, e.g. 3.14';
    case 'bool':
      return value === 'true' || value === 'false' ? null : 'true or false';
    case 'b64':
    case 'bin':
      return /^[A-Za-z0-9+/]*={0,2}$/.test(value.replace(/\s+/g, '')) && value.replace(/\s+/g, '').length % 4 === 0 ? null : 'base64 (A-Z a-z 0-9 + /, padded with =)';
    case 'date':
      return /^\d{4}-?\d{2}-?\d{2}$/.test(value) ? null : 'an ISO 8601 date, e.g. 2024-05-31';
    case 'time':
      return /^\d{2}:?\d{2}(:?\d{2})?(Z|[+-]\d{2}:?\d{2})?$/.test(value) ? null : 'an ISO 8601 time, e.g. 13:45:00Z';
    case 'node':
    case 'null':
      return value === '' ? null : 'this format has no value';
    default:
      return null;
  }
}

export function ValueEditor({ format, value, onChange, id }: { format: string; value: string; onChange: (v: string) => void; id?: string }) {
  const error = validateValue(format, value);
  let input;
  switch (format) {
    case 'bool':
      input = (
        <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-label="Value">
          <option value="">—</option>
          <option value="true">true</option>
          <option value="false">false</option>
        </select>
      );
      break;
    case 'int':
      input = <input id={id} type="text" inputMode="numeric" value={value} onChange={(e) => onChange(e.target.value)} aria-label="Value" className="mono" />;
      break;
    case 'float':
      input = <input id={id} type="text" inputMode="decimal" value={value} onChange={(e) => onChange(e.target.value)} aria-label="Value" className="mono" />;
      break;
    case 'node':
    case 'null':
      input = <span className="muted">({format}: no value)</span>;
      break;
    case 'b64':
    case 'bin':
    case 'xml':
      input = <textarea id={id} rows={5} value={value} onChange={(e) => onChange(e.target.value)} aria-label="Value" className="mono" />;
      break;
    default:
      input = <input id={id} type="text" value={value} onChange={(e) => onChange(e.target.value)} aria-label="Value" className="mono" />;
  }
  return (
    <div className="value-editor">
      {input}
      {error && value !== '' && <div className="bad small" role="alert">expected {error}</div>}
    </div>
  );
}
