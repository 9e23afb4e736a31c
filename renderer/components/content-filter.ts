/**
 * The Sessions view's content box, pure (tested under Node): what it holds as a display filter. A
 * bare word or phrase (no operator) becomes `data contains "..." || uri contains "..."`.
 */
export function asFilter(text: string): string {
  const t = text.trim();
  if (t === '') return '';
  const looksLikeFilter = /(==|!=|<=|>=|<|>|\bcontains\b|\bmatches\b|&&|\|\||^!|\(|\band\b|\bor\b|\bnot\b)/.test(t);
  if (looksLikeFilter) return t;
  const quoted = JSON.stringify(t);
  return `data contains ${quoted} || uri contains ${quoted}`;
}
