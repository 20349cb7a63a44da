/**
 * The recursion that killed the broker: a long queue of messages nobody is subscribed to, released at once (what
 * follows a stalled subscriber), drains recursively in mqemitter. The guard sends each one round the event loop.
 */
import { Aedes, type Client } from 'aedes';
import { expect, it } from 'vitest';
import { guardEmitter } from '../../broker/emitter-guard.ts';

interface Emitter {
  on(topic: string, listener: (message: unknown, done: () => void) => void, ready?: () => void): void;
  emit(message: { topic: string }, done?: (error?: Error) => void): void;
  current: number;
  _messageQueue: unknown[];
}

async function stalledEmitter(guarded: boolean) {
  const broker = await Aedes.createBroker({ concurrency: 10 });
  const mq = (broker as unknown as { mq: Emitter }).mq;
  const guard = guarded ? guardEmitter(mq, 1000) : null;
  const held: (() => void)[] = [];
  await new Promise<void>((resolve) => mq.on('stalled', (_m, done) => held.push(done), resolve));
  for (let i = 0; i < 10; i++) mq.emit({ topic: 'stalled' }); // every slot taken by a subscriber that waits
  let delivered = 0;
  for (let i = 0; i < 20_000; i++) mq.emit({ topic: 'nobody/listens' }, () => delivered++);
  return { broker, mq, guard, held, delivered: () => delivered };
}

it('without the guard, releasing the stalled slots overflows the stack (the crash, reproduced)', async () => {
  const { broker, held, mq } = await stalledEmitter(false);
  expect(mq._messageQueue.length).toBe(20_000);
  expect(() => held.shift()!()).toThrow(RangeError);
  await new Promise<void>((resolve) => broker.close(() => resolve()));
});

it('with the guard the queue drains in order, without recursion', async () => {
  const { broker, held, mq, delivered } = await stalledEmitter(true);
  const order: number[] = [];
  mq.emit({ topic: 'nobody/listens' }, () => order.push(1));
  for (const done of held.splice(0)) done();
  mq.emit({ topic: 'nobody/listens' }, () => order.push(2)); // queued behind the backlog, not ahead of it
  const deadline = Date.now() + 10_000;
  while (delivered() < 20_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  while (order.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(delivered()).toBe(20_000);
  expect(order).toEqual([1, 2]);
  await new Promise<void>((resolve) => broker.close(() => resolve()));
});

it('pauses a publisher while the backlog is over the limit and resumes it at half', async () => {
  const { broker, held, guard } = await stalledEmitter(true);
  const calls: string[] = [];
  const client = { closed: false, pause: () => calls.push('pause'), resume: () => calls.push('resume') };
  guard!.throttle(client as unknown as Client);
  guard!.throttle(client as unknown as Client); // once is enough
  expect(calls).toEqual(['pause']);
  for (const done of held.splice(0)) done();
  const deadline = Date.now() + 10_000;
  while (guard!.backlog() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 10));
  expect(calls).toEqual(['pause', 'resume']);
  await new Promise<void>((resolve) => broker.close(() => resolve()));
});
