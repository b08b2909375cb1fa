// The bridge to an application's own OpenTelemetry tracer: a pipeline or op started inside an
// active OTel span (the OTel JS SDK's tracer) takes that span as its parent.
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Context, type ContextManager, context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type Part, partProcessor, textPart } from '@sluice/core';
import { initTracing, op, type Tracing, traced } from '@sluice/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryStore } from './tracing-helpers.ts';

/** The smallest context manager (the app's NodeSDK registers a real one). */
class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

let tracing: Tracing;
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeEach(async () => {
  context.setGlobalContextManager(new AlsContextManager());
  trace.setGlobalTracerProvider(provider);
  tracing = await initTracing({ store: memoryStore(), project: 'otel' });
});
afterEach(async () => {
  await tracing.close();
  trace.disable();
  context.disable();
});

describe('OpenTelemetry bridge', () => {
  it("a pipeline and an op started inside an app's active span take it as their parent", async () => {
    const tracer = trace.getTracer('app');
    const step = traced(partProcessor((p: Part) => textPart(`${p.text}!`), { name: 'step' }));
    const lookup = op(async function lookup(key: string) {
      return key.length;
    });
    let spanContext: { traceId: string; spanId: string } | undefined;
    await tracer.startActiveSpan('request', async (span) => {
      spanContext = span.spanContext();
      expect((await step(['a']).gather()).map((p) => p.text)).toEqual(['a!']);
      await lookup('abc');
      span.end();
    });
    // Outside any span: a root call of its own trace.
    await step(['b']).gather();
    const calls: { op: string; traceId: string; parentId?: string }[] = [];
    for await (const c of tracing.calls({ sort: 'startedAt' })) calls.push(c);
    const [inside, opCall, outside] = [
      calls.find((c) => c.op === 'step' && c.parentId)!,
      calls.find((c) => c.op === 'lookup')!,
      calls.find((c) => c.op === 'step' && !c.parentId)!,
    ];
    expect(inside).toMatchObject({ traceId: spanContext!.traceId, parentId: spanContext!.spanId });
    expect(opCall).toMatchObject({ traceId: spanContext!.traceId, parentId: spanContext!.spanId });
    expect(outside).toBeDefined();
    expect(outside.traceId).not.toBe(spanContext!.traceId);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['request']);
  });

  it('OTel code awaited inside an op or an async part function sees the call as the active span', async () => {
    exporter.reset();
    const tracer = trace.getTracer('app');
    const seen: { op: string; traceId?: string; spanId?: string }[] = [];
    const fetchThing = async (name: string) => {
      await Promise.resolve();
      const active = trace.getActiveSpan()?.spanContext();
      seen.push({ op: name, traceId: active?.traceId, spanId: active?.spanId });
      // An instrumented library starting a span of its own.
      tracer.startSpan(`lib:${name}`).end();
    };
    const ask = op(async function ask(q: string) {
      await fetchThing(q);
      return q;
    });
    const step = traced(
      partProcessor(
        async (p: Part) => {
          await fetchThing('step');
          return p;
        },
        { name: 'step' },
      ),
    );
    await ask('q');
    await step(['x']).gather();
    const calls: { id: string; op: string; traceId: string }[] = [];
    for await (const c of tracing.calls()) calls.push(c);
    const askCall = calls.find((c) => c.op === 'ask')!;
    const stepCall = calls.find((c) => c.op === 'step')!;
    expect(seen).toEqual([
      { op: 'q', traceId: askCall.traceId, spanId: askCall.id },
      { op: 'step', traceId: stepCall.traceId, spanId: stepCall.id },
    ]);
    const libSpans = exporter.getFinishedSpans();
    expect(libSpans.map((s) => [s.name, s.spanContext().traceId, s.parentSpanContext?.spanId])).toEqual([
      ['lib:q', askCall.traceId, askCall.id],
      ['lib:step', stepCall.traceId, stepCall.id],
    ]);
  });
});
