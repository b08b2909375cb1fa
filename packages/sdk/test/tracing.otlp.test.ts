// OTLP out and in: our exporter sending to the viewer's receiver (and to a counting server for
// batches, retries and oversized spans), and the OpenTelemetry JS SDK sending to the receiver.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { toArray } from '@reactivex/ix-esnext-esm/asynciterable/toarray';
import { type Part, partProcessor } from '@sluice/core';
import { fakeModel } from '@sluice/processors';
import { type Call, initTracing, otlpExporter, startTraceViewer, traced } from '@sluice/sdk';
import { describe, expect, it } from 'vitest';
import { memoryStore } from './tracing-helpers.ts';

async function countingServer(statuses: number[] = []) {
  const bodies: { resourceSpans: { scopeSpans: { spans: { name: string; attributes: { key: string }[] }[] }[] }[] }[] =
    [];
  let requests = 0;
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      requests++;
      const status = statuses.shift() ?? 200;
      if (status !== 200) {
        res.writeHead(status, { 'retry-after': '0', 'content-type': 'application/json' }).end('{}');
        return;
      }
      bodies.push(JSON.parse(text));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    bodies,
    requests: () => requests,
    spans: () => bodies.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const identity = partProcessor((p: Part) => p, { name: 'identity' });

describe('OTLP', () => {
  it('round trip: our exporter to the viewer receiver keeps ids, parents, gen_ai attributes and no content', async () => {
    const received = memoryStore();
    const viewer = await startTraceViewer({ store: received });
    const exporter = otlpExporter({ url: `${viewer.url}/v1/traces` });
    const tracing = await initTracing({ store: memoryStore(), exporters: [exporter], project: 'otlp' });
    try {
      const model = traced(fakeModel({ reply: 'secret answer', name: 'm' }), { name: 'stage' });
      await model(['secret prompt']).gather();
      await tracing.flush();
      expect(exporter.stats).toMatchObject({ written: 2, dropped: 0, errors: 0 });
      const mine = await toArray(tracing.calls({ sort: 'startedAt' }));
      const theirs = (await received.index()).calls({ sort: 'startedAt' });
      expect(theirs.map((c) => [c.id, c.traceId, c.parentId, c.op, c.kind, c.status])).toEqual(
        mine.map((c) => [c.id, c.traceId, c.parentId, c.op, c.kind, c.status]),
      );
      const llm = theirs.find((c) => c.kind === 'llm')!;
      expect(llm.attributes).toMatchObject({
        'gen_ai.provider.name': 'fake',
        'gen_ai.usage.input_tokens': 2,
        'gen_ai.usage.output_tokens': 2,
      });
      expect(llm.startedAt).toBeCloseTo(mine[1]!.startedAt, 0);
      expect(JSON.stringify(theirs)).not.toContain('secret');
    } finally {
      await tracing.close();
      await viewer.close();
    }
  });

  it('exportContent sends inputs and outputs', async () => {
    const server = await countingServer();
    const tracing = await initTracing({
      store: memoryStore(),
      exporters: [otlpExporter({ url: server.url, exportContent: true })],
    });
    try {
      await traced(identity)(['visible']).gather();
      await tracing.flush();
      expect(JSON.stringify(server.spans())).toContain('visible');
    } finally {
      await tracing.close();
      await server.close();
    }
  });

  it('batches of at most 512 spans, sent early; retries after a 503 honour Retry-After; the rest flushed on close', async () => {
    const server = await countingServer([503]);
    const exporter = otlpExporter({ url: server.url, scheduledDelayMs: 60_000 });
    const tracing = await initTracing({ store: memoryStore(), exporters: [exporter] });
    const p = traced(identity);
    for (let i = 0; i < 600; i++) await p(['x']).gather();
    // The first 512 went as soon as the batch was full (before any flush or timer).
    await new Promise<void>((resolve) => {
      const check = () => (server.bodies.length >= 1 ? resolve() : setTimeout(check, 5));
      check();
    });
    expect(server.spans()).toHaveLength(512);
    await tracing.close();
    expect(server.bodies.map((b) => b.resourceSpans[0]!.scopeSpans[0]!.spans.length)).toEqual([512, 88]);
    expect(server.requests()).toBe(3);
    expect(exporter.stats).toMatchObject({ written: 600, dropped: 0, errors: 0 });
    await server.close();
  });

  it('an oversized span is trimmed, never the whole batch', async () => {
    const server = await countingServer();
    const exporter = otlpExporter({ url: server.url, exportContent: true, maxBatchBytes: 8 * 1024 });
    const tracing = await initTracing({ store: memoryStore(), exporters: [exporter] });
    try {
      const p = traced(identity, { name: 'small' });
      const big = traced(identity, { name: 'big' });
      await p(['a']).gather();
      await big(['y'.repeat(50_000)]).gather();
      await p(['b']).gather();
      await tracing.flush();
      const spans = server.spans();
      expect(spans.map((s) => s.name)).toEqual(['small', 'big', 'small']);
      const bigSpan = spans[1]!;
      expect(bigSpan.attributes.map((a) => a.key)).toContain('sluice.truncated');
      expect(bigSpan.attributes.map((a) => a.key)).not.toContain('sluice.inputs');
      expect(exporter.stats).toMatchObject({ written: 3, dropped: 0, errors: 0 });
    } finally {
      await tracing.close();
      await server.close();
    }
  });

  it('a collector that is down is counted and warned about once, never thrown', async () => {
    const warnings: string[] = [];
    const exporter = otlpExporter({
      url: 'http://127.0.0.1:9/v1/traces',
      maxRetries: 0,
      onWarning: (m) => warnings.push(m),
    });
    const tracing = await initTracing({ store: memoryStore(), exporters: [exporter] });
    await traced(identity)(['a']).gather();
    await traced(identity)(['b']).gather();
    await tracing.close();
    expect(exporter.stats).toMatchObject({ written: 0, errors: 2 });
    expect(warnings).toHaveLength(1);
  });

  it('the OpenTelemetry JS SDK sends to the viewer receiver: spans become calls with their parents', async () => {
    const received = memoryStore();
    const viewer = await startTraceViewer({ store: received });
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${viewer.url}/v1/traces` }))],
    });
    try {
      const tracer = provider.getTracer('test');
      const parent = tracer.startSpan('agent', { attributes: { 'gen_ai.request.model': 'm1' } });
      const child = tracer.startSpan('tool', {}, trace.setSpan(ROOT_CONTEXT, parent));
      child.recordException(new Error('tool failed'));
      child.setStatus({ code: 2, message: 'tool failed' });
      child.end();
      parent.end();
      await provider.forceFlush();
      const calls: Call[] = (await received.index()).calls({ sort: 'startedAt' });
      expect(calls.map((c) => c.op).sort()).toEqual(['agent', 'tool']);
      const a = calls.find((c) => c.op === 'agent')!;
      const t = calls.find((c) => c.op === 'tool')!;
      expect(a.id).toBe(parent.spanContext().spanId);
      expect(a.traceId).toBe(parent.spanContext().traceId);
      expect(t.parentId).toBe(a.id);
      expect(a.attributes['gen_ai.request.model']).toBe('m1');
      expect(t.status).toBe('error');
      expect(t.exception).toMatchObject({ message: 'tool failed' });
      expect(a.endedAt! >= a.startedAt).toBe(true);
    } finally {
      await provider.shutdown();
      await viewer.close();
    }
  });
});
