/**
 * Element paths for error messages: `SyncML/SyncBody/Add[2]/Item`. Built only when an error is
 * reported, from the stack of open elements, so the happy path pays nothing for it.
 */
import { isElement, type Element } from '../element.js';

/** `[k]` is added when an earlier sibling has the same name (k counts 1-based up to this element). */
export function elementPath(stack: readonly Element[], depth: number = stack.length): string | undefined {
  if (depth === 0) return undefined;
  let path = '';
  for (let i = 0; i < depth; i++) {
    const el = stack[i]!;
    let seg = el.name;
    const parent = i > 0 ? stack[i - 1] : undefined;
    if (parent) {
      let k = 0;
      for (const c of parent.children) {
        if (typeof c === 'object' && isElement(c) && c.name === el.name) k++;
        if (c === el) break;
      }
      if (k > 1) seg += `[${k}]`;
    }
    path = i === 0 ? seg : `${path}/${seg}`;
  }
  return path;
}
