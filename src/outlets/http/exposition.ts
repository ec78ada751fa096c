/**
 * The Prometheus text exposition format 0.0.4, written by hand (prom-client costs ~12 MB of
 * RSS at idle on its own, more than this whole outlet): families with HELP and TYPE, label
 * values escaped, one histogram type. Families are emitted in the order they are added, and
 * a family with no samples is left out (a gauge for a reading that has no value yet).
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

type Kind = 'counter' | 'gauge' | 'histogram';

export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(labels: Labels | undefined): string {
  const keys = labels ? Object.keys(labels) : [];
  if (!labels || keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',')}}`;
}

/** A label value from arbitrary text (a sensor id, an input name): bounded length. */
export function labelValue(text: string): string {
  return text.length > 128 ? text.slice(0, 128) : text;
}

/** Cumulative bucket counts for a histogram with fixed upper bounds. */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count += 1;
    for (let i = 0; i < this.bounds.length; i += 1) if (value <= this.bounds[i]!) this.#counts[i]! += 1;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  bucketCounts(): readonly number[] {
    return this.#counts;
  }
}

export class Exposition {
  readonly #lines: string[] = [];
  readonly #names = new Set<string>();

  counter(name: string, help: string, samples: readonly Sample[] | number): this {
    return this.#family(name, 'counter', help, samples);
  }

  gauge(name: string, help: string, samples: readonly Sample[] | number | undefined | null): this {
    return this.#family(name, 'gauge', help, samples ?? []);
  }

  histogram(name: string, help: string, h: Histogram): this {
    this.#header(name, 'histogram', help);
    const counts = h.bucketCounts();
    h.bounds.forEach((le, i) => this.#lines.push(`${name}_bucket{le="${formatValue(le)}"} ${counts[i]}`));
    this.#lines.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${formatValue(h.sum)}`, `${name}_count ${h.count}`);
    return this;
  }

  text(): string {
    return this.#lines.length === 0 ? '' : `${this.#lines.join('\n')}\n`;
  }

  #family(name: string, kind: Kind, help: string, samples: readonly Sample[] | number): this {
    const list = typeof samples === 'number' ? [{ value: samples }] : samples;
    const finite = list.filter((s) => Number.isFinite(s.value));
    if (finite.length === 0) return this;
    this.#header(name, kind, help);
    for (const s of finite) this.#lines.push(`${name}${labelText(s.labels)} ${formatValue(s.value)}`);
    return this;
  }

  #header(name: string, kind: Kind, help: string): void {
    if (this.#names.has(name)) throw new Error(`metric family ${name} written twice`);
    this.#names.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${kind}`);
  }
}
