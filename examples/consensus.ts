/**
 * Multi-provider consensus: the same question goes to four providers at once (OpenAI, Anthropic,
 * Gemini and Ollama wire formats, each a local fake server on loopback), their free-text answers
 * are normalised to a vote, and the majority wins if it has a quorum (more than half of the
 * answers received). A provider that fails (here, optionally, one answering 500) abstains instead
 * of sinking the whole vote: `Promise.allSettled` keeps the others. Swap the fake base URLs for
 * real ones (`createLLM('anthropic', { model })` reads ANTHROPIC_API_KEY) to ask real models.
 * Run: `pnpm exec tsx examples/consensus.ts`.
 */
import { type FakeModelServer, startFakeModelServer } from '@sluice/processors/testing';
import { createLLM, type LLM } from '@sluice/sdk';

export const QUESTION = 'How many bits are in a byte? Answer briefly.';

type Voter = 'openai' | 'anthropic' | 'gemini' | 'ollama';

/** What each fake provider says; one of them is wrong, as real models sometimes are. */
export const REPLIES: Record<Voter, string> = {
  openai: 'A byte has 8 bits.',
  anthropic: 'There are eight bits in a byte.',
  gemini: '8',
  ollama: 'A byte is 7 bits.',
};

const MODELS: Record<Voter, string> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-haiku-4-5',
  gemini: 'gemini-2.5-flash',
  ollama: 'llama3.2',
};

const WORDS: Record<string, string> = { seven: '7', eight: '8', nine: '9', sixteen: '16' };

/** The vote an answer casts: its first number (digits or a number word), else its lowercased text. */
export function normalise(answer: string): string {
  const match = /\b(\d+|seven|eight|nine|sixteen)\b/i.exec(answer);
  if (!match) return answer.trim().toLowerCase();
  return WORDS[match[1]!.toLowerCase()] ?? match[1]!;
}

export interface ConsensusResult {
  /** The vote of each provider that answered. */
  votes: Partial<Record<Voter, string>>;
  /** Providers that failed, with the error message. */
  failed: Partial<Record<Voter, string>>;
  /** The majority answer, or undefined without a quorum. */
  winner: string | undefined;
  /** Votes for the winner / answers received. */
  agreement: [number, number];
  /** The path of every request each fake server received (each provider's own wire format). */
  requests: Record<Voter, string[]>;
}

export async function main(
  log: (line: string) => void = console.log,
  options: { failing?: Voter } = {},
): Promise<ConsensusResult> {
  const voters = Object.keys(REPLIES) as Voter[];
  const servers = new Map<Voter, FakeModelServer>();
  const llms: LLM[] = [];
  try {
    for (const voter of voters) {
      servers.set(
        voter,
        await startFakeModelServer({
          provider: voter,
          reply: REPLIES[voter],
          delayMs: 10,
          fail: voter === options.failing ? { status: 500, message: 'the model crashed', times: 100 } : undefined,
        }),
      );
    }
    // env: {} keeps real keys out of requests to the fake servers; maxRetries: 0 makes a failure quick.
    for (const voter of voters) {
      llms.push(
        createLLM(voter, { model: MODELS[voter], baseURL: servers.get(voter)!.baseURL, maxRetries: 0, env: {} }),
      );
    }
    const signal = AbortSignal.timeout(10_000);
    const started = Date.now();
    const settled = await Promise.allSettled(llms.map((llm) => llm.generate(QUESTION, { signal })));
    log(`asked ${voters.length} providers at once: ${JSON.stringify(QUESTION)} (${Date.now() - started} ms)`);

    const votes: ConsensusResult['votes'] = {};
    const failed: ConsensusResult['failed'] = {};
    settled.forEach((outcome, i) => {
      const voter = voters[i]!;
      if (outcome.status === 'fulfilled') {
        votes[voter] = normalise(outcome.value.text);
        log(`  ${voter.padEnd(10)} ${JSON.stringify(outcome.value.text)} -> votes ${votes[voter]}`);
      } else {
        failed[voter] = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
        log(`  ${voter.padEnd(10)} failed, abstains: ${failed[voter]}`);
      }
    });

    const tally = new Map<string, number>();
    for (const vote of Object.values(votes)) tally.set(vote, (tally.get(vote) ?? 0) + 1);
    const received = Object.keys(votes).length;
    const [top, count] = [...tally].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
    const winner = count * 2 > received ? top : undefined;
    log(
      winner === undefined
        ? `no consensus: ${[...tally].map(([v, n]) => `${v} x${n}`).join(', ') || 'no answers'}`
        : `consensus: ${winner} (${count} of ${received} answers agree)`,
    );
    for (const [voter, vote] of Object.entries(votes)) {
      if (winner !== undefined && vote !== winner) log(`  dissent: ${voter} said ${vote}`);
    }
    const requests = Object.fromEntries(
      voters.map((voter) => [voter, servers.get(voter)!.requests.map((r) => r.path)]),
    ) as Record<Voter, string[]>;
    return { votes, failed, winner, agreement: [count, received], requests };
  } finally {
    await Promise.all(llms.map((llm) => llm.close()));
    await Promise.all([...servers.values()].map((server) => server.close()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
