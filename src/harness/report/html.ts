// The one place markup is made: `el(tag, attrs, ...children)` escapes every attribute and text
// child, so no caller concatenates tags or worries about a '<' in a check message. Children that
// are already markup come wrapped in `raw()` (what el() returns is such a wrapper).
export class Markup {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export type Child = Markup | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, string | number | boolean | null | undefined>;

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function raw(html: string): Markup {
  return new Markup(html);
}

function render(c: Child): string {
  if (c === null || c === undefined || c === false) return '';
  if (Array.isArray(c)) return c.map(render).join('');
  if (c instanceof Markup) return c.html;
  return esc(String(c));
}

const VOID = new Set(['br', 'hr', 'img', 'input', 'meta', 'link', 'wbr']);

export function el(tag: string, attrs: Attrs = {}, ...children: Child[]): Markup {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined && v !== null && v !== false)
    .map(([k, v]) => (v === true ? ` ${k}` : ` ${k}="${esc(String(v))}"`))
    .join('');
  if (VOID.has(tag)) return new Markup(`<${tag}${a}>`);
  return new Markup(`<${tag}${a}>${render(children)}</${tag}>`);
}

export function fragment(...children: Child[]): Markup {
  return new Markup(render(children));
}
