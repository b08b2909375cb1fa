// A producer process for the redisQueue test: enqueues ITEMS JSON items { n } into QUEUE, then closes it.

import { redisQueue } from '@sluice/processors/redis';
import { enqueue, streamContent } from '@sluice/streams';

const queue = redisQueue<{ n: number }>(process.env.QUEUE!, {
  redis: process.env.REDIS_URL!,
  highWaterMark: 8,
  group: 'g',
});
const items = Array.from({ length: Number(process.env.ITEMS) }, (_, n) => ({ n }));
await enqueue(streamContent(items), queue);
await queue.ended;
process.stdout.write('done\n');
