import { describe, expect, it } from 'vitest';
import { entryOf, History } from '../../src/hub/history.js';

const reading = (i: number, value: unknown = i) => entryOf({ at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), durationMs: i, value });

describe('History', () => {
  it('keeps the last N readings, oldest first, each with its JSON built once', () => {
    const h = new History(3);
    for (let i = 1; i <= 5; i++) h.push(reading(i));
    expect(h.size).toBe(3);
    expect(h.last().map((e) => e.reading.value)).toEqual([3, 4, 5]);
    expect(h.last(2).map((e) => e.reading.value)).toEqual([4, 5]);
    expect(h.last(0)).toEqual([]);
    expect(h.last(99)).toHaveLength(3);
    expect(JSON.parse(h.last(1)[0]!.json)).toEqual({ at: '2026-01-01T00:00:05.000Z', durationMs: 5, value: 5 });
    // rotated out by count is the configured size, not a loss
    expect(h.dropped).toBe(0);
  });

  it('drops the oldest to stay within its byte budget and counts them', () => {
    const big = 'x'.repeat(1000);
    const h = new History(100, 3500);
    for (let i = 1; i <= 5; i++) h.push(reading(i, big));
    expect(h.bytes).toBeLessThanOrEqual(3500);
    expect(h.size).toBe(3);
    expect(h.dropped).toBe(2);
    expect(h.last().map((e) => e.reading.durationMs)).toEqual([3, 4, 5]);
  });

  it('refuses a single entry larger than the whole budget without losing the others', () => {
    const h = new History(10, 100);
    h.push(reading(1));
    h.push(reading(2, 'y'.repeat(500)));
    expect(h.last().map((e) => e.reading.value)).toEqual([1]);
    expect(h.dropped).toBe(1);
  });

  it('holds nothing with size 0', () => {
    const h = new History(0);
    h.push(reading(1));
    expect(h.size).toBe(0);
    expect(h.last()).toEqual([]);
  });

  it('stays correct across many rotations (the ring compacts itself)', () => {
    const h = new History(720);
    for (let i = 0; i < 10_000; i++) h.push(reading(i % 60, i));
    expect(h.size).toBe(720);
    expect(h.last(1)[0]!.reading.value).toBe(9999);
    expect(h.last()[0]!.reading.value).toBe(10_000 - 720);
  });

  it('finds the readings after a given time (event-stream resume)', () => {
    const h = new History(10);
    for (let i = 1; i <= 5; i++) h.push(reading(i));
    expect(h.since('2026-01-01T00:00:03.000Z').map((e) => e.reading.value)).toEqual([4, 5]);
    expect(h.since('2026-01-01T00:00:05.000Z')).toEqual([]);
    expect(h.since('2000-01-01T00:00:00.000Z')).toHaveLength(5);
  });

  it('rejects a size outside 0..100000', () => {
    expect(() => new History(100_001)).toThrow(RangeError);
    expect(() => new History(-1)).toThrow(RangeError);
  });
});
