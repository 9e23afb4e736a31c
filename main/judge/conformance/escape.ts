/**
 * Escaping for the reports (JUnit XML, HTML). Every string in a report can come from the device (a
 * Status detail, a node value, a whole message), so nothing goes out unescaped.
 *
 * XML 1.0 cannot carry most C0 control characters, U+FFFE/U+FFFF or a lone surrogate at all, not
 * even as a character reference (`&#0;` is not well-formed). They are written as visible `\uXXXX`
 * text instead, so the report stays well-formed and the reader still sees what the device sent.
 * HTML would tolerate some of them but shows nothing useful, so the HTML report does the same.
 */

/** Characters XML 1.0 forbids (Char production), lone surrogates included. */
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function visible(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Text content: the markup characters, and characters XML cannot hold shown as `\uXXXX`. */
export function escapeText(s: string): string {
  return s.replace(NOT_XML_CHAR, visible).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * An attribute value (written between double quotes). Tab, newline and carriage return become
 * character references: attribute-value normalisation would otherwise turn them into spaces.
 */
export function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

/** One line, at most `max` characters (an ellipsis marks the cut). */
export function oneLine(s: string, max = 200): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
